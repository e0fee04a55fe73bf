/**
 * Non-negative integers written as decimal ASCII straight into a buffer: RESP lengths (resp-command.ts) and
 * message bodies (runtime/envelope-bytes.ts), without a string per number.
 */

/** Decimal digits of a non-negative integer. */
export function decimalDigits(n: number): number {
  return n < 10 ? 1 : n < 100 ? 2 : n < 1_000 ? 3 : n < 10_000 ? 4 : String(n).length;
}

/** Writes the non-negative integer `n` in decimal at `at`; returns the offset after it. */
export function writeDecimal(buffer: Buffer, at: number, n: number): number {
  const end = at + decimalDigits(n);
  for (let i = end - 1; i >= at; i--) {
    buffer[i] = 48 + (n % 10);
    n = Math.floor(n / 10);
  }
  return end;
}
