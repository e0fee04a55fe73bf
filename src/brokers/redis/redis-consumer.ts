/**
 * One consumption on the Redis broker: a loop that takes entries with the `take` script (on the shared command
 * connection) while it has room, and when every queue came back drained (fewer entries than asked) blocks on the
 * queues' markers with BZPOPMIN on its own connection, for at most `blockMs` or until the next delayed entry or
 * lease deadline. The takes that follow a wake are pipelined behind the BZPOPMIN on that connection: Redis runs
 * them as soon as the block ends, so a wake and its take cost one round trip, not two.
 *
 * Held deliveries have their leases renewed every `leaseMs / 3`; a consumer that dies stops renewing, and the
 * next `take` of any other consumer after `leaseMs` returns its deliveries to their queues (redelivered).
 *
 * Against half-open connections (RELIABILITY D3): a finite server-side block timeout, ioredis `socketTimeout`
 * on both connections (destroy + reconnect when a command waits past it), and a watchdog that restarts the loop
 * on a fresh blocking connection when one step stays silent past `blockMs + stallMarginMs`.
 *
 * A blocking connection this consumer drops (stop, watchdog) is never waited on again: ioredis 5.11 leaves a
 * command unsettled for good when `disconnect()` finds its connection between a drop and the next `ready`
 * (`reconnecting`, or the reconnect's handshake): the command sits in `prevCommandQueue` (or the offline queue),
 * which nothing flushes any more (redis/ioredis#2169, #2197). A drop that happened on its own (ioredis'
 * `socketTimeout`, which also fires on a healthy link when the event loop stalls past it with the reply already
 * in the socket; a server-side kill) followed by `stop()` in that window left `stop()`, and with it
 * `broker.close()`, pending forever, with no timer left. So each block races the drop of its own connection.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Consumer, Delivery } from '../broker.js';
import { HeldSlots } from '../held-slots.js';
import { ackLingerFor, type AckBatcher } from './ack-batcher.js';
import { inOneWrite } from '../../core/one-write.js';
import type { RideLink, WriteCarrier } from '../../core/write-carrier.js';
import { dropConnection } from '../../core/drop-connection.js';
import { decodeEntry } from './entry.js';
import type { QueueKeys } from './keys.js';
import { RedisDelivery, type DeliveryOwner } from './redis-delivery.js';
import { blockThenTake, type BrokerScripts, type TakeArgs, type TakeReply } from './scripts.js';

/** What a consumer uses from its broker. */
export interface ConsumerContext {
  readonly scripts: BrokerScripts;
  readonly acks: AckBatcher;
  /** How long an ack may linger for another write (ms), before the cap by the lease (ack-batcher.ts). */
  readonly ackLingerMs: number;
  keys(queue: string): QueueKeys;
  /** A new connection for blocking reads (one per consumer), with the broker scripts defined on it. */
  blockingConnection(): Redis;
  readonly logger: Logger | undefined;
  /** Longest server-side block (ms). */
  readonly blockMs: number;
  /** Silence past `blockMs` after which the watchdog restarts the loop (ms). */
  readonly stallMarginMs: number;
  readonly maxDeadLetters: number;
  /**
   * Where a Redis store on the same server lets its claims ride in this consumer's next block (core/write-carrier.ts);
   * used once the store has joined it (`WriteCarrier.joined`).
   */
  readonly carrier?: WriteCarrier;
}

/** What an ack answers once queued: one settled promise for all of them. */
const QUEUED: Promise<void> = Promise.resolve();

/** Most entries asked of one queue in one take. */
const MAX_TAKE = 1_000;
/**
 * A take round of more than half the prefetch, and of at least this many entries, is handed out in two halves a
 * turn apart (RedisConsumer's handOutStaggered). Smaller rounds gain nothing: their batches cost mostly per call.
 */
const STAGGER_MIN = 32;
/** Most entries one take promotes from delayed or reclaims from lapsed leases. */
const SWEEP_LIMIT = 1_000;
/** How long `stop()` waits for an ended block to hand back what its pipelined take got (ms). */

/** A blocking connection and the way this consumer lets go of it (a link claims can ride on: write-carrier.ts). */
interface BlockingLink extends RideLink {
  /**
   * `work`, or a rejection as soon as {@link BlockingLink.drop} ran (at once if it ran already): a block on this
   * connection is abandoned, not awaited. Each call listens only until its own `work` settles: racing every
   * block against one promise that lives as long as the connection (`Promise.race`) kept a reaction, and with it
   * the block's reply, per block for good (a leak of about 800 bytes per wake, seen in a heap snapshot).
   */
  unlessDropped<T>(work: Promise<T>): Promise<T>;
  /** Closes the connection at once (no QUIT, no CLIENT UNBLOCK) and rejects what waits in `unlessDropped`. */
  drop(): void;
}

/** What one round of takes gave. */
interface Round {
  /** Entries handed out. */
  taken: number;
  /** Queues asked. */
  asked: number;
  /** Whether every queue asked gave fewer entries than asked for (its lists were empty after the take). */
  drained: boolean;
  /** Time until the earliest delayed entry or lease deadline of the queues asked (ms). */
  wakeMs: number;
}

/** A running consumer of some queues. */
export class RedisConsumer implements Consumer, DeliveryOwner {
  private readonly held = new Set<RedisDelivery>();
  /** Slots taken by {@link RedisConsumer.hold}. */
  private readonly holds = new HeldSlots(() => this.wakeForRoom());
  private readonly queueKeys: QueueKeys[];
  /** Per queue, the keys a take names (ready lists, inflight, delayed, marker). */
  private readonly takeKeys: string[][];
  private active = true;
  private generation = 0;
  private cursor = 0;
  private blocking: BlockingLink;
  private roomWaiter: (() => void) | undefined;
  private inCallSince: number | undefined;
  private loop: Promise<void> = Promise.resolve();
  private readonly timers: NodeJS.Timeout[] = [];
  private stopped: Promise<void> | undefined;
  private readonly abort = new AbortController();
  /** How long this consumer's acks may linger while it runs (ms). */
  private readonly ackLingerMs: number;

  constructor(
    private readonly ctx: ConsumerContext,
    private readonly queues: readonly string[],
    private readonly prefetch: number,
    private readonly leaseMs: number,
    private readonly onDelivery: (delivery: Delivery) => void,
  ) {
    this.queueKeys = queues.map((queue) => ctx.keys(queue));
    this.takeKeys = this.queueKeys.map((keys) => [...keys.lists, keys.inflight, keys.delayed, keys.marker]);
    this.blocking = this.openBlocking();
    this.ackLingerMs = ackLingerFor(ctx.ackLingerMs, leaseMs);
  }

  /** Starts the loop, the lease renewal and the watchdog. */
  start(): void {
    this.loop = this.run(this.generation);
    this.timers.push(setInterval(() => void this.renew(), Math.max(10, Math.floor(this.leaseMs / 3))));
    this.timers.push(setInterval(() => this.checkStall(), Math.max(100, Math.min(1_000, this.ctx.blockMs))));
    for (const timer of this.timers) timer.unref();
  }

  /** Takes nothing more; what it holds unacked is given back (redelivered), though an ack may still land. */
  stop(): Promise<void> {
    this.stopped ??= this.shutdown();
    return this.stopped;
  }

  /** Takes a prefetch slot without a delivery until the returned function is called (Consumer.hold). */
  hold(): () => void {
    return this.holds.take();
  }

  /** Entries handed out and not yet settled, for the broker's purge. */
  forget(queue: string): void {
    for (const delivery of this.held) if (delivery.queue === queue) this.held.delete(delivery);
    this.wakeForRoom();
  }

  /**
   * Frees the delivery's prefetch slot and queues its `ZREM`, which lingers for a write this broker makes anyway
   * (ack-batcher.ts), or goes on the next turn once this consumer stopped. Resolves once queued, as an AMQP ack
   * resolves once handed to its channel: `stop()` and the broker's `close()` wait until Redis applied it.
   * @internal
   */
  ackDelivery(delivery: RedisDelivery): Promise<void> {
    if (this.held.delete(delivery)) this.wakeForRoom();
    this.ctx.acks.ack(this.ctx.keys(delivery.queue).inflight, delivery.entry, this.active ? this.ackLingerMs : 0);
    return QUEUED;
  }

  /** @internal */
  async deadLetterDelivery(delivery: RedisDelivery, reason: string, detail?: string): Promise<void> {
    if (this.held.delete(delivery)) this.wakeForRoom();
    const keys = this.ctx.keys(delivery.queue);
    await this.ctx.scripts.deadLetterEntry(keys.inflight, keys.dead, delivery.entry, delivery.queue, reason, detail, this.ctx.maxDeadLetters);
  }

  /** @internal */
  async releaseDelivery(delivery: RedisDelivery): Promise<void> {
    if (!this.held.delete(delivery)) return;
    this.wakeForRoom();
    await this.giveBack([delivery]);
  }

  private async shutdown(): Promise<void> {
    this.active = false;
    this.generation += 1;
    for (const timer of this.timers) clearInterval(timer);
    this.abort.abort();
    this.ctx.carrier?.release(this.blocking);
    this.wakeForRoom();
    // A block in flight is dropped with its connection; a take pipelined behind it never runs, and one that ran
    // already comes back after its lease. Never `CLIENT UNBLOCK`: Redis 7.0 crashes when its target is held by
    // a `CLIENT PAUSE` (as during a FAILOVER): "Unknown btype in replyToBlockedClientTimedOut()", seen in the
    // fault property test.
    this.blocking.drop();
    await this.loop.catch(() => undefined);
    const held = [...this.held];
    this.held.clear();
    // What lingers leaves now, so stop() returns with every ack made so far applied.
    await Promise.all([this.ctx.acks.flush(), this.giveBack(held)]);
  }

  private isCurrent(generation: number): boolean {
    return this.active && generation === this.generation;
  }

  private async run(generation: number): Promise<void> {
    let emptyAsked = 0;
    let wakeMs = Number.POSITIVE_INFINITY;
    let failures = 0;
    /** > 0: block this long before the next take (pipelined behind the block); 0: take now. */
    let waitMs = 0;
    while (this.isCurrent(generation)) {
      const room = this.prefetch - this.held.size - this.holds.count;
      // A ride opened for a block that is not written now: its riders go alone.
      if (waitMs <= 0 || room <= 0) this.ctx.carrier?.release(this.blocking);
      if (room <= 0) {
        await new Promise<void>((resolve) => (this.roomWaiter = resolve));
        await new Promise((resolve) => setImmediate(resolve));
        waitMs = 0;
        continue;
      }
      try {
        const round = await this.step(() => this.takeRound(room, generation, waitMs, emptyAsked));
        failures = 0;
        waitMs = 0;
        if (!round.drained) {
          emptyAsked = 0;
          wakeMs = Number.POSITIVE_INFINITY;
          continue;
        }
        emptyAsked += round.asked;
        wakeMs = Math.min(wakeMs, round.wakeMs);
        if (emptyAsked < this.queues.length) continue;
        waitMs = Math.max(0, Math.min(wakeMs, this.ctx.blockMs));
        emptyAsked = 0;
        wakeMs = Number.POSITIVE_INFINITY;
        // The claims the handlers just made ride in front of the block when a store on this server joined the
        // carrier: the block is written on the next tick, after the store has handed them over (takeRound
        // opened the ride). Otherwise let them leave first (an auto-pipelining client holds them until
        // setImmediate): the block can wait, the claims are the critical path.
        if (this.ctx.carrier?.open) await new Promise((resolve) => process.nextTick(resolve));
        else if (round.taken > 0) await new Promise((resolve) => setImmediate(resolve));
      } catch (error) {
        waitMs = 0;
        if (!this.isCurrent(generation)) return;
        failures += 1;
        this.ctx.logger?.warn({ err: error, queues: this.queues, failures }, 'redis broker: consumer step failed; retrying');
        const backoffMs = Math.min(1_000, 25 * 2 ** Math.min(failures, 6)) * (0.5 + Math.random());
        await sleep(backoffMs, undefined, { signal: this.abort.signal }).catch(() => undefined);
      }
    }
  }

  /** Runs one Redis step with the watchdog's clock on it. */
  private async step<T>(action: () => Promise<T>): Promise<T> {
    const since = Date.now();
    this.inCallSince = since;
    try {
      return await action();
    } finally {
      // A step of a loop the watchdog replaced ends late (its connection dropped): leave the new loop's clock.
      if (this.inCallSince === since) this.inCallSince = undefined;
    }
  }

  /**
   * Asks each queue for a share of `room` (rotating who gets the remainder) and hands out what comes back;
   * with `waitMs > 0` the takes wait behind a block on the markers ({@link blockThenTakes}, one round trip).
   * When this round leaves every queue asked empty (`emptyAsked` counts those of the rounds before), the next
   * step is a block: the ride of the carrier opens before the hand-out, so the claims ride in that block's write.
   */
  private async takeRound(room: number, generation: number, waitMs: number, emptyAsked: number): Promise<Round> {
    const n = this.queues.length;
    const budget = Math.min(room, MAX_TAKE);
    const asks: Array<[number, number]> = [];
    for (let i = 0; i < n; i += 1) {
      const count = Math.floor(budget / n) + (i < budget % n ? 1 : 0);
      if (count > 0) asks.push([(this.cursor + i) % n, count]);
    }
    this.cursor = (this.cursor + Math.max(1, asks.length)) % n;
    const takes = asks.map(([index, count]): TakeArgs => [this.takeKeys[index] as string[], count]);
    let settled: Array<PromiseSettledResult<TakeReply>>;
    let failure: unknown;
    if (waitMs > 0) {
      ({ takes: settled, blockError: failure } = await this.blockThenTakes(waitMs, takes));
    } else {
      // The acks lingering so far leave first, in the same socket write as the takes.
      settled = await Promise.allSettled(this.ctx.scripts.takeMany(takes, this.leaseMs, SWEEP_LIMIT, () => this.ctx.acks.sendNow()));
    }
    let drained = true;
    let wakeMs = Number.POSITIVE_INFINITY;
    const orphans: RedisDelivery[] = [];
    const out: RedisDelivery[] = [];
    settled.forEach((result, i) => {
      if (result.status === 'rejected') {
        failure = result.reason;
        drained = false;
        return;
      }
      const reply = result.value;
      const [index, count] = asks[i] as [number, number];
      const queue = this.queues[index] as string;
      const wake = reply[0];
      if (typeof wake === 'number' && wake >= 0) wakeMs = Math.min(wakeMs, wake);
      if (reply.length - 1 >= count) drained = false;
      for (let j = 1; j < reply.length; j += 1) {
        const entry = reply[j];
        if (!Buffer.isBuffer(entry)) continue;
        const decoded = decodeEntry(entry);
        const delivery = new RedisDelivery(this, queue, entry, decoded?.body ?? entry, decoded?.redelivered ?? false);
        if (!this.isCurrent(generation)) {
          orphans.push(delivery);
          continue;
        }
        out.push(delivery);
      }
    });
    const carrier = this.ctx.carrier;
    if (carrier?.joined && out.length > 0 && drained && emptyAsked + asks.length >= n) carrier.expect(this.blocking);
    const taken = out.length;
    this.handOutStaggered(out);
    if (orphans.length > 0) await this.giveBack(orphans);
    if (failure !== undefined && taken === 0) throw failure;
    return { taken, asked: asks.length, drained, wakeMs };
  }

  /**
   * Hands out a take round's deliveries; a round of more than half the prefetch (and of {@link STAGGER_MIN} or
   * more) goes in two halves, the second one turn later (`setImmediate`). A worker whose slots all came back in
   * one round otherwise moves in lockstep with Redis: one claim batch, one complete batch, one take, with Node
   * idle while Redis runs each and Redis idle while Node handles the replies. Handed out a turn apart, the
   * halves' claims leave in two writes, so Redis answers the first while the second is on its way, and Node
   * runs the first half's handlers and commits while Redis runs the second half's claims. The halves stay a step
   * apart after that: each half's completions free its slots, which take for it (docs/redis-broker.md
   * "Staggered hand-out").
   * The second half counts as held at once: it fills prefetch slots and its leases are renewed; a stop (it gives
   * back what is held) or a purge (it forgets) meanwhile keeps it from being handed out.
   */
  private handOutStaggered(out: readonly RedisDelivery[]): void {
    if (out.length < STAGGER_MIN || out.length <= this.prefetch / 2) {
      for (const delivery of out) this.handOut(delivery);
      return;
    }
    const half = out.length >> 1;
    const later = out.slice(half);
    for (const delivery of later) this.held.add(delivery);
    for (let i = 0; i < half; i += 1) this.handOut(out[i] as RedisDelivery);
    setImmediate(() => {
      if (!this.active) return;
      for (const delivery of later) if (this.held.has(delivery)) this.handOut(delivery);
    });
  }

  private handOut(delivery: RedisDelivery): void {
    this.held.add(delivery);
    try {
      this.onDelivery(delivery);
    } catch (error) {
      this.ctx.logger?.error({ err: error, queue: delivery.queue }, 'redis broker: onDelivery threw; delivery released');
      void this.releaseDelivery(delivery).catch(() => undefined);
    }
  }

  /**
   * Blocks on the markers of every queue (rotated, so no queue always wins) for `waitMs` at most, the takes
   * pipelined behind the block and the acks lingering so far in front of it, all in one write. The server checks
   * block timeouts only at its `hz` (100 ms by default), so a wait for a delayed message's due time may end up
   * to 1/hz late.
   * A failed block comes back as `blockError` (so the loop backs off rather than spinning). Rejects at once when
   * this consumer drops the connection meanwhile: takes that ran anyway come back when their lease lapses.
   */
  private async blockThenTakes(waitMs: number, takes: TakeArgs[]): ReturnType<typeof blockThenTake> {
    const markers = this.queueKeys.map((keys) => keys.marker);
    const shift = this.cursor % markers.length;
    const rotated = [...markers.slice(shift), ...markers.slice(0, shift)];
    const link = this.blocking;
    // The acks lingering so far go first, in the same write: an idle consumer's block is the write it makes anyway.
    const sent = inOneWrite(link.redis, () => {
      // Claims of the deliveries just handed out, when a store on this server gave them to the ride, go first.
      this.ctx.carrier?.board(link);
      this.ctx.acks.flushVia(link.redis, link.unlessDropped);
      return blockThenTake(link.redis, rotated, waitMs, takes, this.leaseMs, SWEEP_LIMIT);
    });
    return link.unlessDropped(sent);
  }

  /** A fresh blocking connection. */
  private openBlocking(): BlockingLink {
    const redis = this.ctx.blockingConnection();
    const dropError = new Error('redis broker: blocking connection dropped by its consumer');
    let dropped = false;
    const waiting = new Set<(error: Error) => void>();
    return {
      redis,
      unlessDropped: <T>(work: Promise<T>): Promise<T> => {
        if (dropped) {
          work.catch(() => undefined);
          return Promise.reject(dropError);
        }
        return new Promise<T>((resolve, reject) => {
          waiting.add(reject);
          work.then(resolve, reject).finally(() => waiting.delete(reject));
        });
      },
      drop: () => {
        dropped = true;
        dropConnection(redis);
        for (const reject of waiting) reject(dropError);
        waiting.clear();
      },
    };
  }


  private wakeForRoom(): void {
    const waiter = this.roomWaiter;
    this.roomWaiter = undefined;
    waiter?.();
  }

  /** Extends the leases of everything held, one script call per queue. */
  private async renew(): Promise<void> {
    for (const [queue, entries] of entriesByQueue(this.held)) {
      for (let i = 0; i < entries.length; i += 500) {
        await this.ctx.scripts
          .renewEntries(this.ctx.keys(queue).inflight, this.leaseMs, entries.slice(i, i + 500))
          .catch((error: unknown) => this.ctx.logger?.warn({ err: error, queue }, 'redis broker: lease renewal failed'));
      }
    }
  }

  private async giveBack(deliveries: RedisDelivery[]): Promise<void> {
    await Promise.all(
      [...entriesByQueue(deliveries)].map(([queue, entries]) => {
        const keys = this.ctx.keys(queue);
        return this.ctx.scripts.giveBackEntries(keys.inflight, keys.marker, entries);
      }),
    );
  }

  /** Watchdog: a step silent for too long means a wedged connection; restart on a fresh one. */
  private checkStall(): void {
    if (!this.active || this.inCallSince === undefined) return;
    const silentMs = Date.now() - this.inCallSince;
    if (silentMs <= this.ctx.blockMs + this.ctx.stallMarginMs) return;
    this.ctx.logger?.warn({ queues: this.queues, silentMs }, 'redis broker: consumer step stalled; restarting its loop');
    this.generation += 1;
    this.inCallSince = undefined;
    this.blocking.drop();
    this.blocking = this.openBlocking();
    this.wakeForRoom();
    this.loop = this.run(this.generation);
  }
}

/** The entries of these deliveries, by queue. */
function entriesByQueue(deliveries: Iterable<RedisDelivery>): Map<string, Buffer[]> {
  const byQueue = new Map<string, Buffer[]>();
  for (const delivery of deliveries) {
    const list = byQueue.get(delivery.queue) ?? [];
    list.push(delivery.entry);
    byQueue.set(delivery.queue, list);
  }
  return byQueue;
}
