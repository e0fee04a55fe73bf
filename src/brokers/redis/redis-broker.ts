/**
 * The Redis broker on ioredis. Layout and the measurements behind it: docs/redis-broker.md; keys: keys.ts.
 *
 * - Publishes of one tick to one queue go as one script call (publish-batcher.ts): `RPUSH` onto the queue's list
 *   for each message's priority, plus a marker `ZADD` when a list was empty, to wake idle consumers; delayed
 *   messages go to the queue's `delayed` sorted set instead, likewise one call. They are written at the end of the
 *   tick that issued them, not held for ioredis auto-pipelining's `setImmediate`.
 * - Consumers take entries with one script per queue and round: it promotes due delayed entries, returns lapsed
 *   leases to their queue (redelivered), and moves up to `count` entries, highest priority first, into the
 *   `inflight` sorted set scored by lease deadline. Nothing is popped destructively: an entry is always in a
 *   list, `delayed` or `inflight` until acked (`ZREM`, batched) or dead-lettered (DESIGN inv 5).
 * - A consumer that dies stops renewing its leases; any other consumer's next take after `leaseMs` reclaims its
 *   entries. Idle consumers block on the markers with BZPOPMIN, on their own connection, until the next due
 *   time, capped at `blockMs` (no busy polling, RELIABILITY D3).
 */
import { randomUUID } from 'node:crypto';
import type { Redis, RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { Broker, ConsumeOptions, Consumer, DeadLetter, Delivery, PublishOptions } from '../broker.js';
import { ConfigError } from '../../core/errors.js';
import { checkPublishOptions } from '../memory/options.js';
import { AckBatcher, DEFAULT_ACK_LINGER_MS } from './ack-batcher.js';
import { closeConnection, openConnection } from './connection.js';
import { readDeadLetters } from './dead-letters.js';
import { encodeEntry, idGenerator } from './entry.js';
import { allQueueKeys, PRIORITY_LEVELS, queueKeys, type QueueKeys } from './keys.js';
import { RedisConsumer, type ConsumerContext } from './redis-consumer.js';
import { PublishBatcher } from './publish-batcher.js';
import type { QueuePush } from '../../core/queue-push.js';
import { defineBrokerScripts, PUBLISH_COMMANDS, type BrokerScripts } from './scripts.js';
import { WriteCarrier } from '../../core/write-carrier.js';

/** Options of {@link RedisBroker}. */
export interface RedisBrokerOptions {
  /** `redis://[user:pass@]host:port[/db]` or `rediss://...`. */
  url: string;
  /** Namespace: every key is `${prefix}:q:...`. */
  prefix: string;
  /** Connection warnings and consumer retries are logged here. */
  logger?: Logger;
  /** Longest server-side block of an idle consumer (ms, default 5,000). */
  blockMs?: number;
  /** A command waiting this long for any reply means a dead link: reconnect (ms, default 10,000). */
  socketTimeoutMs?: number;
  /** Lease when `consume` gets no `leaseMs` (ms, default 30,000). */
  defaultLeaseMs?: number;
  /** Dead letters kept per queue (default 10,000). */
  maxDeadLetters?: number;
  /**
   * How long an ack may linger for a write the broker makes anyway (a take, a publish, an idle consumer's block)
   * before it leaves on its own (ms, default 3); never more than a twentieth of the consumer's lease.
   */
  ackLingerMs?: number;
  /** Extra ioredis options (TLS, username, ...); the broker's own settings win where they overlap. */
  redisOptions?: RedisOptions;
}

/**
 * A {@link Broker} on Redis.
 *
 * @example
 * const broker = new RedisBroker({ url: 'redis://127.0.0.1:6379', prefix: 'braid' });
 * await broker.connect();
 * const consumer = await broker.consume(['default'], { prefetch: 16, leaseMs: 30_000 }, (d) => void d.ack());
 * await broker.publish('default', Buffer.from('{"v":1}'), { priority: 5, delayMs: 1_000 });
 */
export class RedisBroker implements Broker {
  /** Short name for logs. */
  readonly kind = 'redis';
  /** The server this broker's queues live on (Broker.serverUrl). */
  readonly serverUrl: string;
  /** Where a store on this server lets its claims ride in the consumers' blocks (Broker.carrier). */
  readonly carrier = new WriteCarrier();
  private readonly options: Required<Omit<RedisBrokerOptions, 'logger' | 'redisOptions'>> & Pick<RedisBrokerOptions, 'logger' | 'redisOptions'>;
  private main: Redis | undefined;
  private scripts: BrokerScripts | undefined;
  private acks: AckBatcher | undefined;
  /** Publishes leave at the end of their tick, one script call per queue (left out of auto-pipelining). */
  private publishes: PublishBatcher | undefined;
  private readonly keyCache = new Map<string, QueueKeys>();
  private readonly consumers = new Set<RedisConsumer>();
  private readonly nextId = idGenerator();
  private closed = false;

  constructor(options: RedisBrokerOptions) {
    this.serverUrl = options.url;
    this.options = {
      blockMs: 5_000,
      socketTimeoutMs: 10_000,
      defaultLeaseMs: 30_000,
      maxDeadLetters: 10_000,
      ackLingerMs: DEFAULT_ACK_LINGER_MS,
      ...options,
    };
    const { ackLingerMs } = this.options;
    if (!Number.isFinite(ackLingerMs) || ackLingerMs < 0) throw new ConfigError(`redis broker: ackLingerMs must be a finite number >= 0, got ${String(ackLingerMs)}`);
  }

  /** Opens the command connection; `ConfigError` for a bad URL or an unreachable server. */
  async connect(): Promise<void> {
    if (this.closed) throw new Error('the redis broker is closed');
    if (this.main !== undefined) return;
    const main = await openConnection(
      this.options.url,
      {
        ...this.options.redisOptions,
        enableAutoPipelining: true,
        autoPipeliningIgnoredCommands: PUBLISH_COMMANDS,
        socketTimeout: this.options.socketTimeoutMs,
      },
      this.options.logger,
    );
    this.main = main;
    this.scripts = defineBrokerScripts(main);
    const acks = new AckBatcher(main, this.options.logger);
    this.acks = acks;
    // Lingering acks leave in the write of the next publish.
    this.publishes = new PublishBatcher(main, this.scripts, () => acks.sendNow());
  }

  /** Queues need no declaration in Redis; names are checked. */
  async declare(queues: readonly string[]): Promise<void> {
    for (const queue of queues) this.keys(queue);
  }

  /** Stores the message; resolves once Redis has it. */
  async publish(queue: string, body: Buffer, options: PublishOptions = {}): Promise<void> {
    const { delayMs, priority } = checkPublishOptions(options, PRIORITY_LEVELS - 1);
    this.connection();
    const keys = this.keys(queue);
    const entry = encodeEntry(priority, this.nextId(), body);
    const publishes = this.publishes as PublishBatcher;
    if (delayMs > 0) await publishes.delay(keys, entry, delayMs);
    else await publishes.push(keys, priority, entry);
  }

  /**
   * A ready publish as a push for another connection to the same server (core/queue-push.ts): `RPUSH` of its
   * entry onto its priority's list, then `ZADD` of the queue's marker. What `pushMany` does, except that the
   * marker is set even when the list was not empty: an idle consumer may wake for a take that finds nothing.
   * Undefined for a delayed publish (the broker's own `delayMany` keeps those).
   */
  pushFor(queue: string, body: Buffer, options: PublishOptions = {}): QueuePush | undefined {
    const { delayMs, priority } = checkPublishOptions(options, PRIORITY_LEVELS - 1);
    if (delayMs > 0) return undefined;
    this.connection();
    const keys = this.keys(queue);
    return { list: keys.lists[priority] as string, marker: keys.marker, entry: encodeEntry(priority, this.nextId(), body) };
  }

  /** Starts a consumer of these queues with its own blocking connection. */
  async consume(queues: readonly string[], options: ConsumeOptions, onDelivery: (delivery: Delivery) => void): Promise<Consumer> {
    const main = this.connection();
    if (!Number.isInteger(options.prefetch) || options.prefetch < 1) {
      throw new ConfigError(`redis broker: prefetch must be a positive integer, got ${String(options.prefetch)}`);
    }
    const leaseMs = options.leaseMs ?? this.options.defaultLeaseMs;
    if (!Number.isFinite(leaseMs) || leaseMs < 100) throw new ConfigError(`redis broker: leaseMs must be at least 100 ms, got ${String(leaseMs)}`);
    const names = [...new Set(queues)];
    if (names.length === 0) throw new ConfigError('redis broker: consume needs at least one queue');
    for (const name of names) this.keys(name);
    const consumer = new RedisConsumer(this.context(main), names, options.prefetch, leaseMs, onDelivery);
    this.consumers.add(consumer);
    consumer.start();
    return {
      stop: async () => {
        this.consumers.delete(consumer);
        await consumer.stop();
      },
      hold: () => consumer.hold(),
    };
  }

  /** Dead letters of every queue under the prefix, newest first. */
  async deadLetters(limit = 100): Promise<DeadLetter[]> {
    return readDeadLetters(this.connection(), this.options.prefix, limit);
  }

  /** Keeps a copy of a message as a dead letter of `queue` (LPUSH to its dead list, capped as every dead letter). */
  async deadLetter(queue: string, body: Buffer, reason: string, detail?: string): Promise<void> {
    this.connection();
    await (this.scripts as BrokerScripts).deadLetterCopy(this.keys(queue).dead, body, queue, reason, detail, this.options.maxDeadLetters);
  }

  /** Deletes every key of these queues: ready, delayed, in flight, dead letters. */
  async purge(queues: readonly string[]): Promise<void> {
    const main = this.connection();
    for (const queue of queues) {
      await main.del(...allQueueKeys(this.keys(queue)));
      for (const consumer of this.consumers) consumer.forget(queue);
    }
  }

  /** Stops every consumer (giving back what they hold), flushes the acks that linger and closes the connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.consumers].map((consumer) => consumer.stop().catch(() => undefined)));
    this.consumers.clear();
    await this.acks?.flush();
    if (this.main !== undefined) {
      await this.main.ping().catch(() => undefined);
      await closeConnection(this.main);
    }
  }

  private connection(): Redis {
    if (this.closed) throw new Error('the redis broker is closed');
    if (this.main === undefined) throw new Error('the redis broker is not connected: call connect() first');
    return this.main;
  }

  private keys(queue: string): QueueKeys {
    let keys = this.keyCache.get(queue);
    if (keys === undefined) {
      if (typeof queue !== 'string' || queue.length === 0) throw new ConfigError('redis broker: queue names must be non-empty strings');
      keys = queueKeys(this.options.prefix, queue);
      this.keyCache.set(queue, keys);
    }
    return keys;
  }

  private context(main: Redis): ConsumerContext {
    const { logger, blockMs, socketTimeoutMs } = this.options;
    return {
      scripts: this.scripts as BrokerScripts,
      acks: this.acks as AckBatcher,
      ackLingerMs: this.options.ackLingerMs,
      keys: (queue) => this.keys(queue),
      blockingConnection: () => {
        const blocking = main.duplicate({
          enableAutoPipelining: false,
          lazyConnect: false,
          socketTimeout: blockMs + 2_000,
          maxRetriesPerRequest: null,
          connectionName: `braid-consumer-${randomUUID().slice(0, 8)}`,
        });
        blocking.on('error', (error: Error) => logger?.debug({ err: error }, 'redis broker: blocking connection error'));
        defineBrokerScripts(blocking);
        return blocking;
      },
      logger,
      blockMs,
      stallMarginMs: socketTimeoutMs + 2_000,
      maxDeadLetters: this.options.maxDeadLetters,
      carrier: this.carrier,
    };
  }
}
