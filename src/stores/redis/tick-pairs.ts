/**
 * Collects the argument pairs of one command issued many times in a tick (the sweep index's `ZADD GT` and
 * `unindex`, sweeper.ts) and sends them at the end of the tick as one command, or a few of at most
 * {@link TICK_PAIRS_MAX} pairs each; every caller's promise settles with its command's outcome.
 */

/** Most pairs in one command. */
export const TICK_PAIRS_MAX = 1_000;

interface Waiter { resolve: () => void; reject: (error: unknown) => void }

/** Pairs of one command, sent together per tick. */
export class TickPairs {
  private args: string[] = [];
  private waiters: Waiter[] = [];

  /** `send` runs one command with these flat pairs. */
  constructor(private readonly send: (pairs: string[]) => Promise<unknown>) {}

  /** Queues one pair; resolves once the command holding it succeeded. */
  add(pair: readonly [string, string]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.waiters.length === 0) process.nextTick(() => this.flush());
      this.args.push(pair[0], pair[1]);
      this.waiters.push({ resolve, reject });
    });
  }

  /** Sends what is queued now (nothing when empty). */
  flush(): void {
    const { args, waiters } = this;
    this.args = [];
    this.waiters = [];
    for (let i = 0; i < waiters.length; i += TICK_PAIRS_MAX) {
      const part = waiters.slice(i, i + TICK_PAIRS_MAX);
      const settle = (error?: unknown): void => part.forEach((w) => (error === undefined ? w.resolve() : w.reject(error)));
      try {
        this.send(args.slice(2 * i, 2 * (i + TICK_PAIRS_MAX))).then(() => settle(), (error: unknown) => settle(error ?? new Error('failed')));
      } catch (error) {
        settle(error ?? new Error('failed'));
      }
    }
  }
}
