/**
 * Collects the argument pairs of one command issued many times in a tick (the sweep index's `ZADD GT` and
 * `unindex`, sweeper.ts) and sends them at the end of the tick as one command, or a few of at most
 * {@link TICK_PAIRS_MAX} pairs each; every caller's promise settles with its command's outcome. A lazy
 * collector (`lingerMs`) waits up to that long instead, for a caller's `flush()` to take its pairs along with
 * other commands in one write (the unindexes, off the commit path, ride with the next store call).
 */

/** Most pairs in one command. */
export const TICK_PAIRS_MAX = 1_000;

interface Waiter { resolve: () => void; reject: (error: unknown) => void }

/** Pairs of one command, sent together per tick. */
export class TickPairs {
  private args: string[] = [];
  private waiters: Waiter[] = [];
  private timer: NodeJS.Timeout | undefined;

  /**
   * `send` runs one command with these flat pairs. With `lingerMs`, pairs wait up to that long (an unref'd timer)
   * for a `flush()` instead of leaving at the end of their tick.
   */
  constructor(private readonly send: (pairs: string[]) => Promise<unknown>, private readonly lingerMs?: number) {}

  /** Queues one pair; resolves once the command holding it succeeded. */
  add(pair: readonly [string, string]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.waiters.length === 0) {
        if (this.lingerMs === undefined) process.nextTick(() => this.flush());
        else (this.timer = setTimeout(() => this.flush(), this.lingerMs)).unref();
      }
      this.args.push(pair[0], pair[1]);
      this.waiters.push({ resolve, reject });
    });
  }

  /** Sends what is queued now (nothing when empty). */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
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
