/**
 * Collects the argument pairs of one command issued many times in a tick (the sweep index's `ZADD GT` and
 * `unindex`, sweeper.ts) and sends them at the end of the tick as one command, or a few of at most
 * {@link TICK_PAIRS_MAX} pairs each; every caller's promise settles with its command's outcome. A lazy
 * collector (`lingerMs`) waits up to that long instead, for a caller's `flush()` to take its pairs along with
 * other commands in one write (the unindexes, off the commit path, ride with the next store call).
 */

/** Most pairs in one command. */
export const TICK_PAIRS_MAX = 1_000;

/**
 * The pairs of one command to send, and the one promise every caller of those pairs gets (a promise, a waiter
 * and a pair array per caller were most of what a start allocated here).
 */
interface Chunk {
  args: string[];
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

function newChunk(): Chunk {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  return { args: [], promise, resolve, reject };
}

/** Pairs of one command, sent together per tick. */
export class TickPairs {
  /** The commands queued, each of at most {@link TICK_PAIRS_MAX} pairs; the last one takes new pairs. */
  private chunks: Chunk[] = [];
  private timer: NodeJS.Timeout | undefined;

  /**
   * `send` runs one command with these flat pairs. With `lingerMs`, pairs wait up to that long (an unref'd timer)
   * for a `flush()` instead of leaving at the end of their tick.
   */
  constructor(private readonly send: (pairs: string[]) => Promise<unknown>, private readonly lingerMs?: number) {}

  /**
   * Queues one pair; resolves once the command holding it succeeded. The callers whose pairs go in one command
   * share its promise.
   */
  add(first: string, second: string): Promise<void> {
    let chunk = this.chunks[this.chunks.length - 1];
    if (chunk === undefined) {
      if (this.lingerMs === undefined) process.nextTick(() => this.flush());
      else (this.timer = setTimeout(() => this.flush(), this.lingerMs)).unref();
    }
    if (chunk === undefined || chunk.args.length >= 2 * TICK_PAIRS_MAX) this.chunks.push((chunk = newChunk()));
    chunk.args.push(first, second);
    return chunk.promise;
  }

  /** Sends what is queued now (nothing when empty). */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const chunks = this.chunks;
    this.chunks = [];
    for (const chunk of chunks) {
      try {
        this.send(chunk.args).then(() => chunk.resolve(), (error: unknown) => chunk.reject(error ?? new Error('failed')));
      } catch (error) {
        chunk.reject(error ?? new Error('failed'));
      }
    }
  }
}
