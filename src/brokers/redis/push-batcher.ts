/**
 * Publishes leave at the end of the current tick (`process.nextTick`, after the microtasks that issued them):
 * a lone publish is written at once, several issued together share one pipeline (one write). ioredis
 * auto-pipelining would instead hold every command until `setImmediate`, i.e. until the event loop has served
 * whatever other I/O is ready: measured 0.2-0.4 ms on a busy worker, on the critical path of every chain step
 * (commit, then publish the next node). The `push` script is therefore left out of auto-pipelining
 * (`autoPipeliningIgnoredCommands`) and batched here.
 */
import type { Redis } from 'ioredis';
import type { BrokerScripts } from './scripts.js';

interface Push {
  list: string;
  marker: string;
  entry: Buffer;
  resolve: (length: number) => void;
  reject: (error: unknown) => void;
}

/** Collects the pushes of one tick and sends them together. */
export class PushBatcher {
  private pending: Push[] = [];

  constructor(private readonly redis: Redis, private readonly scripts: BrokerScripts) {}

  /** Pushes `entry` onto `list` (setting `marker` when the list was empty); resolves with the list's length. */
  push(list: string, marker: string, entry: Buffer): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      if (this.pending.length === 0) process.nextTick(() => this.flush());
      this.pending.push({ list, marker, entry, resolve, reject });
    });
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 1) {
      const [one] = batch as [Push];
      this.scripts.pushEntry(one.list, one.marker, one.entry).then(one.resolve, one.reject);
      return;
    }
    const pipeline = this.redis.pipeline();
    for (const push of batch) this.scripts.queuePush(pipeline, push.list, push.marker, push.entry);
    pipeline.exec().then(
      (replies) => batch.forEach((push, i) => {
        const [error, length] = replies?.[i] ?? [new Error('redis broker: publish pipeline aborted'), 0];
        if (error) push.reject(error);
        else push.resolve(Number(length));
      }),
      (error: unknown) => batch.forEach((push) => push.reject(error)),
    );
  }
}
