/**
 * One timer for all delayed messages, armed for the earliest due time and capped, so a long delay never
 * becomes a `setTimeout` past 2^31 - 1 ms (which Node fires at once: RELIABILITY D10). When the cap is reached
 * first, the timer fires early, finds nothing due and is armed again.
 */

/** Longest single wait of the timer (ms). */
export const MAX_TIMER_WAIT_MS = 60_000;

/** A single re-armable timer driven by an injectable clock. */
export class DueTimer {
  private timer: NodeJS.Timeout | undefined;
  private armedFor: number | undefined;

  /**
   * @param clock - the time source delays are measured in (ms).
   * @param onDue - called when the armed time comes; it should run what is due and call `arm` again.
   * @param capMs - longest wait of one timer.
   */
  constructor(
    private readonly clock: () => number,
    private readonly onDue: () => void,
    private readonly capMs: number = MAX_TIMER_WAIT_MS,
  ) {}

  /** Makes sure `onDue` runs no later than `dueAt` (or clears the timer when `dueAt` is undefined). */
  arm(dueAt: number | undefined): void {
    if (dueAt === undefined) {
      this.clear();
      return;
    }
    if (this.timer !== undefined && this.armedFor !== undefined && this.armedFor <= dueAt) return;
    this.clear();
    const now = this.clock();
    const wait = Math.min(Math.max(0, dueAt - now), this.capMs);
    this.armedFor = now + wait;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.armedFor = undefined;
      this.onDue();
    }, wait);
  }

  /** Cancels the pending timer, if any. */
  clear(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = undefined;
  }
}
