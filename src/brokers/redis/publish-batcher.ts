/**
 * Publishes of one tick, grouped per queue. At the end of the tick that issued them (`process.nextTick`, after
 * the microtasks that published) every queue's ready entries leave as one `pushMany` call (all priorities; each
 * list's entries in publish order) and its delayed entries as one `delayMany` call, at most {@link MAX_BATCH}
 * entries and about {@link MAX_BATCH_BYTES} per call so a 10,000-node fan-out (or a tick of large bodies) never
 * holds Redis for long. Several calls share one socket write (wire.ts), in the order their first publish was
 * made, behind the acks lingering on the connection (ack-batcher.ts); each is an `EVALSHA` whose bytes are
 * written once (scripts.ts). Every publish settles with its call's outcome. ioredis auto-pipelining would instead hold them until `setImmediate` (0.2-0.4 ms on a busy worker).
 */
import type { Redis } from 'ioredis';
import type { WireArg } from '../../core/resp-command.js';
import { deferred, type Deferred } from './deferred.js';
import type { QueueKeys } from './keys.js';
import type { BrokerScripts, PublishCall } from './scripts.js';
import { inOneWrite } from '../../core/one-write.js';

/** Most entries per script call. */
export const MAX_BATCH = 1_000;
/** A call takes no more entries once they reach this many bytes (an entry larger than this goes alone). */
export const MAX_BATCH_BYTES = 4 * 1024 * 1024;

/** The publishes that go as one script call, and the promise they share. */
interface Batch {
  readonly done: Deferred;
  size: number;
  bytes: number;
  /** Adds one entry with its priority (ready) or its delay in ms (delayed). */
  add(value: number, entry: Buffer): void;
  call(): PublishCall;
}

/** Ready entries of one queue, by priority. */
function readyBatch(keys: QueueKeys): Batch {
  const byPriority: Array<Buffer[] | undefined> = [];
  return {
    done: deferred(),
    size: 0,
    bytes: 0,
    add(priority, entry) {
      (byPriority[priority] ??= []).push(entry);
      this.size += 1;
      this.bytes += entry.length;
    },
    call() {
      const lists: string[] = [];
      const counts: number[] = [];
      const entries: Buffer[][] = [];
      byPriority.forEach((list, priority) => {
        if (list === undefined) return;
        lists.push(keys.lists[priority] as string);
        counts.push(list.length);
        entries.push(list);
      });
      return { script: 'pushMany', args: [[lists.length + 1, keys.marker], lists, counts, ...entries] };
    },
  };
}

/** Delayed entries of one queue, each with its delay. */
function delayedBatch(keys: QueueKeys): Batch {
  const args: WireArg[] = [2, keys.delayed, keys.marker];
  return {
    done: deferred(),
    size: 0,
    bytes: 0,
    add(delayMs, entry) {
      args.push(delayMs, entry);
      this.size += 1;
      this.bytes += entry.length;
    },
    call: () => ({ script: 'delayMany', args: [args] }),
  };
}

/** Collects one tick's publishes on one connection and sends them as few script calls. */
export class PublishBatcher {
  private batches: Batch[] = [];
  /** The batch of each queue still open to more entries this tick. */
  private readonly ready = new Map<QueueKeys, Batch>();
  private readonly delayed = new Map<QueueKeys, Batch>();

  /** @param before - sends, first in the same write, what else waits for a write on `client` (lingering acks). */
  constructor(private readonly client: Redis, private readonly scripts: BrokerScripts, private readonly before: () => void = () => undefined) {}

  /** Appends `entry` to the ready list of `priority` at the end of this tick; resolves once Redis has it. */
  push(keys: QueueKeys, priority: number, entry: Buffer): Promise<void> {
    return this.add(this.ready, readyBatch, keys, priority, entry);
  }

  /** Stores `entry` in the delayed set, due in `delayMs`, at the end of this tick; resolves once Redis has it. */
  delay(keys: QueueKeys, entry: Buffer, delayMs: number): Promise<void> {
    return this.add(this.delayed, delayedBatch, keys, delayMs, entry);
  }

  private add(open: Map<QueueKeys, Batch>, make: (keys: QueueKeys) => Batch, keys: QueueKeys, value: number, entry: Buffer): Promise<void> {
    let batch = open.get(keys);
    if (batch === undefined) {
      if (this.batches.length === 0) process.nextTick(() => this.flush());
      batch = make(keys);
      this.batches.push(batch);
      open.set(keys, batch);
    }
    batch.add(value, entry);
    if (batch.size >= MAX_BATCH || batch.bytes >= MAX_BATCH_BYTES) open.delete(keys);
    return batch.done.promise;
  }

  private flush(): void {
    const batches = this.batches;
    this.batches = [];
    this.ready.clear();
    this.delayed.clear();
    // One socket write for all of them, in the order their first publish was made.
    inOneWrite(this.client, () => {
      this.before();
      for (const batch of batches) this.scripts.publish(batch.call()).then(batch.done.resolve, batch.done.reject);
    });
  }
}
