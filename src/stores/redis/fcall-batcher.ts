/**
 * The store's FCALLs (and its small commands) leave at the end of the current tick (`process.nextTick`, after the microtasks that issued
 * them): a lone call is written at once, several issued together share one pipeline (one write), in the order
 * they were made. ioredis auto-pipelining would instead hold every command until `setImmediate`, i.e. until the
 * event loop has served whatever other I/O is ready: measured 0.2-0.4 ms per claim and per commit on a busy
 * worker, on the critical path of every chain step. The store's client therefore runs without auto-pipelining
 * (connection.ts) and batches its scripts here, as the Redis broker does its publishes (src/brokers/redis/
 * push-batcher.ts). Retries (AbortError, a lost library) stay with the caller (scripts.ts), per call.
 */
import type { ChainableCommander, Redis } from 'ioredis';

/** One command, written on the client (which returns its reply) or queued on a pipeline of it. */
export type Op = (on: ChainableCommander) => unknown;

interface Call {
  op: Op;
  resolve: (reply: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * ioredis `fcall` with keys and arguments as arrays: ioredis flattens them one level when it builds the command
 * (Command: `args.flat()`), and spreading them instead would overflow the stack for a 100,000-node create.
 */
type Fcall = (fn: string, numkeys: number, keys: readonly string[], args: ReadonlyArray<string | number>) => Promise<unknown>;

/** `FCALL fn numkeys ...keys ...args` as an {@link Op}. */
export function fcallOp(fn: string, keys: readonly string[], args: ReadonlyArray<string | number>): Op {
  return (on) => (on.fcall as unknown as Fcall).call(on, fn, keys.length, keys, args);
}

/** Collects the commands (mostly FCALLs) of one tick and sends them together. */
export class FcallBatcher {
  private pending: Call[] = [];

  constructor(private readonly client: Redis) {}

  /** Sends `op` at the end of this tick, after the ops issued before it; resolves with its reply. */
  send<T = unknown>(op: Op): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.pending.length === 0) process.nextTick(() => this.flush());
      this.pending.push({ op, resolve: resolve as (reply: unknown) => void, reject });
    });
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 1) {
      const [one] = batch as [Call];
      (one.op(this.client as unknown as ChainableCommander) as Promise<unknown>).then(one.resolve, one.reject);
      return;
    }
    const pipeline = this.client.pipeline();
    for (const call of batch) call.op(pipeline);
    pipeline.exec().then(
      (replies) => batch.forEach((call, i) => {
        const [error, reply] = replies?.[i] ?? [new Error('redis store: pipeline aborted'), null];
        if (error) call.reject(error);
        else call.resolve(reply);
      }),
      (error: unknown) => batch.forEach((call) => call.reject(error)),
    );
  }
}
