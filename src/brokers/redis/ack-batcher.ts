/**
 * Acks leave as one `ZREM inflight e1 e2 …` per queue, all in one socket write. An ack lingers a few ms
 * ({@link ackLingerFor}) for a write the broker makes anyway and leaves in it: a take on the command connection
 * (`takeMany` calls {@link AckBatcher.sendNow} first), a publish (publish-batcher.ts), or the block and takes an
 * idle consumer writes on its own connection ({@link AckBatcher.flushVia}). When none comes, the acks leave by
 * themselves when the linger ends; {@link AckBatcher.flush} sends what lingers and waits for every ack sent.
 *
 * An ack is queued only after the outcome it follows was stored, and sent later still, so a crash while acks
 * linger costs at most a redelivery, which the store drops as stale (DESIGN inv 2). The linger is a small
 * fraction of the lease, so a lingering ack never lets its lease lapse.
 *
 * Each `ZREM`'s bytes are written once (core/resp-command.ts), and re-sent as they are after a reconnect.
 * `ZREM` of an entry that is gone does nothing, so a re-sent or doubled ack is harmless (RELIABILITY D1).
 */
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { respWire, sendPrebuilt } from '../../core/resp-command.js';
import { inOneWrite } from '../../core/one-write.js';

/** ZREM replies are integers: nothing to decode. */
const ZREM_OPTIONS = { replyEncoding: null };

/** Most entries per ZREM. */
const CHUNK = 1_000;

/** How long an ack lingers for another write by default (ms). */
export const DEFAULT_ACK_LINGER_MS = 3;

/** An ack lingers at most this fraction of its consumer's lease (which is renewed every third of it). */
const LEASE_FRACTION = 1 / 20;

/** How long an ack of a consumer with this lease may linger: `lingerMs`, capped at a twentieth of the lease. */
export function ackLingerFor(lingerMs: number, leaseMs: number): number {
  return Math.max(0, Math.min(lingerMs, leaseMs * LEASE_FRACTION));
}

/** Guards a send on a connection its consumer may drop: rejects once it is dropped. */
export type SendGuard = <T>(work: Promise<T>) => Promise<T>;

/** The guard of the command connection, which nobody drops while acks may use it. */
const unguarded: SendGuard = (work) => work;

/** Collects acks per in-flight key; they leave with the next write on offer, or when their linger ends. */
export class AckBatcher {
  /** Entries to remove, by in-flight key. */
  private pending = new Map<string, Buffer[]>();
  /** Acks written and not yet answered (each settles, never rejects). */
  private readonly sent = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  /** When the timer fires (performance.now() ms). */
  private dueAt = Number.POSITIVE_INFINITY;
  private immediate: NodeJS.Immediate | undefined;

  /**
   * @param redis - the broker's command connection: where acks go when no other write takes them.
   * @param logger - where a failed ack is reported (its message comes back after its lease, dropped as stale).
   */
  constructor(private readonly redis: Redis, private readonly logger: Logger | undefined) {}

  /** Queues the removal of `entry` from `inflightKey`, to leave within `lingerMs` (0: on the next turn of the event loop). */
  ack(inflightKey: string, entry: Buffer, lingerMs: number): void {
    const entries = this.pending.get(inflightKey);
    if (entries === undefined) this.pending.set(inflightKey, [entry]);
    else entries.push(entry);
    this.leaveWithin(lingerMs);
  }

  /** Sends what lingers on the command connection now (called before a take or a publish there: one write). */
  sendNow(): void {
    const batches = this.takePending();
    if (batches !== undefined) void this.send(this.redis, batches, unguarded, this.failed);
  }

  /** Sends what lingers now; resolves once Redis answered every ack sent so far, here or elsewhere (never rejects). */
  flush(): Promise<void> {
    this.sendNow();
    return this.sent.size === 0 ? Promise.resolve() : Promise.all(this.sent).then(() => undefined);
  }

  /**
   * Sends what lingers on `connection` now (another connection to the same server: an idle consumer's, before
   * its block), if it is ready; `guard` rejects once its consumer drops it. An ack that fails there (dropped
   * before Redis answered) is sent again at once on the command connection: sent twice is harmless.
   */
  flushVia(connection: Redis, guard: SendGuard): void {
    if (connection.status !== 'ready') return;
    const batches = this.takePending();
    if (batches === undefined) return;
    this.send(connection, batches, guard, (key, entries) => this.send(this.redis, new Map([[key, entries]]), unguarded, this.failed));
  }

  private leaveWithin(lingerMs: number): void {
    if (lingerMs <= 0) {
      this.immediate ??= setImmediate(() => this.sendNow());
      return;
    }
    const dueAt = performance.now() + lingerMs;
    if (dueAt >= this.dueAt) return;
    clearTimeout(this.timer);
    this.dueAt = dueAt;
    this.timer = setTimeout(() => this.sendNow(), lingerMs);
  }

  /** What lingers, now no longer queued, with the timers that would have sent it cleared. */
  private takePending(): Map<string, Buffer[]> | undefined {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.dueAt = Number.POSITIVE_INFINITY;
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    this.immediate = undefined;
    if (this.pending.size === 0) return undefined;
    const batches = this.pending;
    this.pending = new Map();
    return batches;
  }

  /**
   * Writes one `ZREM` per key (chunked) on `connection`, all in one write; a key's `ZREM` that fails goes to
   * `failed`, whose work is waited for as part of the ack's.
   */
  private send(
    connection: Redis, batches: Map<string, Buffer[]>, guard: SendGuard, failed: (key: string, entries: Buffer[], error: unknown) => unknown,
  ): Promise<void> {
    const keys: Promise<void>[] = [];
    inOneWrite(connection, () => {
      for (const [key, entries] of batches) {
        const zrems: Promise<unknown>[] = [];
        for (let i = 0; i < entries.length; i += CHUNK) {
          const chunk = entries.length <= CHUNK ? entries : entries.slice(i, i + CHUNK);
          zrems.push(guard(sendPrebuilt(connection, 'zrem', respWire(['ZREM', key], chunk), ZREM_OPTIONS)));
        }
        const answered = zrems.length === 1 ? (zrems[0] as Promise<unknown>) : Promise.all(zrems);
        const done = answered.then(
          () => undefined,
          async (error: unknown) => void (await failed(key, entries, error)),
        );
        this.sent.add(done);
        void done.finally(() => this.sent.delete(done));
        keys.push(done);
      }
    });
    return Promise.all(keys).then(() => undefined);
  }

  /** Reports acks that failed on the command connection (a function field: passed as a callback). */
  private readonly failed = (key: string, entries: Buffer[], error: unknown): void => {
    this.logger?.warn({ err: error, key, acks: entries.length }, 'redis broker: ack failed; its messages come back after their lease and are dropped as stale');
  };
}
