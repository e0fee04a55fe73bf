/**
 * Connection URLs -> broker and store instances. `memory://` is private to the app; `memory://<name>` is
 * shared by every app of the process that names it (a producer app and a worker app in one test).
 * Remote transports are loaded on first use, so an app on the embedded default never loads ioredis or amqplib.
 */
import type { Logger } from 'pino';
import { ConfigError } from '../core/errors.js';
import type { Broker } from '../brokers/broker.js';
import { MemoryBroker } from '../brokers/memory/index.js';
import { MemoryStore } from '../stores/memory/memory-store.js';
import type { Store } from '../stores/store.js';

/** What building a broker or store needs besides its URL. */
export interface TransportContext {
  prefix: string;
  logger: Logger;
  clock?: () => number;
  retentionMs?: number;
  /** Keep per-workflow transition history (tests). */
  history?: boolean;
}

const sharedMemory = new Map<string, { broker?: MemoryBroker; store?: MemoryStore }>();

/** The scheme of a connection URL, refusing anything braid does not speak. */
export function schemeOf(url: string): 'memory' | 'redis' | 'amqp' {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`not a connection URL: ${redactUrl(url)} (expected memory://, redis://, rediss://, amqp:// or amqps://)`);
  }
  switch (parsed.protocol) {
    case 'memory:': return 'memory';
    case 'redis:': case 'rediss:': return 'redis';
    case 'amqp:': case 'amqps:': return 'amqp';
    default: throw new ConfigError(`unsupported URL scheme ${parsed.protocol} in ${redactUrl(url)}`);
  }
}

/** A URL with its password replaced by `***`, for logs and messages (RELIABILITY S7). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<invalid URL>';
  }
}

function memoryName(url: string): string {
  return new URL(url).host;
}

/** Makes the broker a URL names. */
export async function makeBroker(url: string, ctx: TransportContext): Promise<Broker> {
  switch (schemeOf(url)) {
    case 'memory': {
      const name = memoryName(url);
      const make = (): MemoryBroker => new MemoryBroker({ prefix: ctx.prefix, logger: ctx.logger, ...(ctx.clock ? { clock: ctx.clock } : {}) });
      if (!name) return make();
      const slot = sharedMemory.get(name) ?? {};
      sharedMemory.set(name, slot);
      return (slot.broker ??= make());
    }
    case 'redis': {
      const { RedisBroker } = await import('../brokers/redis/index.js');
      return new RedisBroker({ url, prefix: ctx.prefix, logger: ctx.logger });
    }
    case 'amqp': {
      const { AmqpBroker } = await import('../brokers/amqp/index.js');
      return new AmqpBroker({ url, prefix: ctx.prefix, logger: ctx.logger });
    }
  }
}

/** Makes the store a URL names. */
export async function makeStore(url: string, ctx: TransportContext): Promise<Store> {
  switch (schemeOf(url)) {
    case 'memory': {
      const name = memoryName(url);
      const make = (): MemoryStore => new MemoryStore({
        ...(ctx.clock ? { clock: ctx.clock } : {}), ...(ctx.retentionMs !== undefined ? { retentionMs: ctx.retentionMs } : {}), history: ctx.history ?? false,
      });
      if (!name) return make();
      const slot = sharedMemory.get(name) ?? {};
      sharedMemory.set(name, slot);
      return (slot.store ??= make());
    }
    case 'redis': {
      const { RedisStore } = await import('../stores/redis/index.js');
      return new RedisStore({ url, prefix: ctx.prefix, logger: ctx.logger, ...(ctx.retentionMs !== undefined ? { retentionMs: ctx.retentionMs } : {}), history: ctx.history ?? false });
    }
    case 'amqp':
      throw new ConfigError('RabbitMQ is a broker, not a store: use redis:// (or memory://) as the store');
  }
}
