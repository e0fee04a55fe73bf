/**
 * Acks made in one turn of the event loop leave as one `ZREM inflight e1 e2 …` per queue, all in one socket
 * write (wire.ts; with the takes when a take flushes them): consume + ack costs well under one round trip per
 * message. Each `ZREM`'s bytes are written once (core/resp-command.ts), and re-sent as they are after a
 * reconnect. `ZREM` of an entry that is gone does nothing, so a re-sent or doubled ack is harmless
 * (RELIABILITY D1).
 */
import type { Redis } from 'ioredis';
import { respWire, sendPrebuilt } from '../../core/resp-command.js';
import { deferred, type Deferred } from './deferred.js';
import { inOneWrite } from '../../core/one-write.js';

/** ZREM replies are integers: nothing to decode. */
const ZREM_OPTIONS = { replyEncoding: null };

/** Most entries per ZREM. */
const CHUNK = 1_000;

interface Batch {
  entries: Buffer[];
  done: Deferred;
}

/** Collects acks per in-flight key and flushes them on the next turn of the event loop. */
export class AckBatcher {
  private pending = new Map<string, Batch>();
  private scheduled: NodeJS.Immediate | undefined;

  constructor(private readonly redis: Redis) {}

  /** Queues the removal of `entry` from `inflightKey`; resolves once Redis has applied it. */
  ack(inflightKey: string, entry: Buffer): Promise<void> {
    let batch = this.pending.get(inflightKey);
    if (batch === undefined) {
      batch = { entries: [], done: deferred() };
      this.pending.set(inflightKey, batch);
    }
    batch.entries.push(entry);
    this.scheduled ??= setImmediate(() => this.flush());
    return batch.done.promise;
  }

  /**
   * Sends everything queued now (also called before a take, so acks precede it on the wire); the promise
   * settles once Redis answered them (it never rejects: each ack's own promise carries its failure).
   */
  flush(): Promise<void> {
    if (this.scheduled !== undefined) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    const batches = this.pending;
    if (batches.size === 0) return Promise.resolve();
    this.pending = new Map();
    const done: Promise<void>[] = [];
    inOneWrite(this.redis, () => {
      for (const [key, batch] of batches) {
        const { entries } = batch;
        const sends: Promise<unknown>[] = [];
        for (let i = 0; i < entries.length; i += CHUNK) {
          const chunk = entries.length <= CHUNK ? entries : entries.slice(i, i + CHUNK);
          sends.push(sendPrebuilt(this.redis, 'zrem', respWire(['ZREM', key], chunk), ZREM_OPTIONS));
        }
        done.push((sends.length === 1 ? (sends[0] as Promise<unknown>) : Promise.all(sends)).then(() => batch.done.resolve(), batch.done.reject));
      }
    });
    return Promise.all(done).then(() => undefined);
  }
}
