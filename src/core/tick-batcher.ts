/**
 * Sends Redis commands at the end of the current tick (`process.nextTick`, after the microtasks that issued
 * them): a lone command is written at once, several issued together share one socket write (core/one-write.ts,
 * no ioredis `Pipeline` object), in the order they were made. ioredis auto-pipelining would instead hold every command until `setImmediate`, i.e.
 * until the event loop has served whatever other I/O is ready: measured 0.2-0.4 ms per command on a busy
 * worker, on the critical path of every chain step (claim, commit, publish of the next node). Used by the Redis
 * store for its FCALLs (src/stores/redis/scripts.ts); retries stay with the callers. (The Redis broker groups
 * its publishes per queue itself: src/brokers/redis/publish-batcher.ts.)
 */
import type { Redis } from 'ioredis';
import { inOneWrite } from './one-write.js';

/** One command: how to send it on the batcher's client (its reply). */
export interface BatchedCommand<T> {
  alone(): Promise<T>;
}

interface Pending {
  command: BatchedCommand<unknown>;
  resolve: (reply: unknown) => void;
  reject: (error: unknown) => void;
}

/** Collects the commands of one tick on one client and sends them together. */
export class TickBatcher {
  private pending: Pending[] = [];

  constructor(private readonly client: Redis) {}

  /** Sends `command` at the end of this tick, after those issued before it; resolves with its reply. */
  send<T>(command: BatchedCommand<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.pending.length === 0) process.nextTick(() => this.flush());
      this.pending.push({ command, resolve: resolve as (reply: unknown) => void, reject });
    });
  }

  /**
   * Writes what was issued so far in this tick now instead of at its end (a full batch of the Redis store, so
   * Redis starts on it while this tick issues the rest); what is issued after this still leaves at the tick's end.
   */
  flushNow(): void {
    this.flush();
  }

  private flush(): void {
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    inOneWrite(this.client, () => {
      for (const item of batch) {
        try {
          item.command.alone().then(item.resolve, item.reject);
        } catch (error) {
          item.reject(error);
        }
      }
    });
  }
}
