/**
 * Sends Redis commands at the end of the current tick (`process.nextTick`, after the microtasks that issued
 * them): a lone command is written at once, several issued together share one pipeline (one write), in the
 * order they were made. ioredis auto-pipelining would instead hold every command until `setImmediate`, i.e.
 * until the event loop has served whatever other I/O is ready: measured 0.2-0.4 ms per command on a busy
 * worker, on the critical path of every chain step (claim, commit, publish of the next node). Used by the Redis
 * store for its FCALLs (src/stores/redis/scripts.ts); retries stay with the callers. (The Redis broker groups
 * its publishes per queue itself: src/brokers/redis/publish-batcher.ts.)
 */
import type { ChainableCommander, Redis } from 'ioredis';

/** One command: how to send it alone (its reply), and how to queue it on a pipeline of the same client. */
export interface BatchedCommand<T> {
  alone(): Promise<T>;
  queue(pipeline: ChainableCommander): void;
}

interface Pending {
  command: BatchedCommand<unknown>;
  resolve: (reply: unknown) => void;
  reject: (error: unknown) => void;
}

/** Collects the commands of one tick on one client and sends them together. */
export class TickBatcher {
  private pending: Pending[] = [];

  /** `what` names the sender in the error of an aborted pipeline. */
  constructor(private readonly client: Redis, private readonly what: string) {}

  /** Sends `command` at the end of this tick, after those issued before it; resolves with its reply. */
  send<T>(command: BatchedCommand<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.pending.length === 0) process.nextTick(() => this.flush());
      this.pending.push({ command, resolve: resolve as (reply: unknown) => void, reject });
    });
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 1) {
      const [one] = batch as [Pending];
      one.command.alone().then(one.resolve, one.reject);
      return;
    }
    const pipeline = this.client.pipeline();
    for (const item of batch) item.command.queue(pipeline);
    pipeline.exec().then(
      (replies) => batch.forEach((item, i) => {
        const [error, reply] = replies?.[i] ?? [new Error(`${this.what}: pipeline aborted`), null];
        if (error) item.reject(error);
        else item.resolve(reply);
      }),
      (error: unknown) => batch.forEach((item) => item.reject(error)),
    );
  }
}
