/**
 * Test helper: a private redis-server per test file and a fresh prefix per broker, with a check that the
 * broker leaves no key behind once its queues are purged.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisBroker, type RedisBrokerOptions } from '../../src/brokers/redis/redis-broker.js';
import type { BrokerFixture } from '../contracts/broker.contract.js';
import type { RedisServer } from '../support/redis-server.js';

/** A connected broker on `server` under `prefix` (a fresh one by default). */
export async function redisBroker(server: RedisServer, options: Partial<RedisBrokerOptions> = {}): Promise<RedisBroker> {
  const broker = new RedisBroker({ url: server.url, prefix: `t${randomUUID().slice(0, 8)}`, ...options });
  await broker.connect();
  return broker;
}

/** Deletes every key under `prefix:` (test cleanup; the server is private to the test file). */
export async function deletePrefix(server: RedisServer, prefix: string): Promise<void> {
  const admin = new Redis(server.url);
  try {
    const keys = await admin.keys(`${prefix}:*`);
    if (keys.length > 0) await admin.del(...keys);
  } finally {
    admin.disconnect();
  }
}

/** A contract fixture: a broker with a fresh prefix, a sibling on the same prefix, cleanup that deletes it all. */
export async function redisFixture(server: RedisServer, options: Partial<RedisBrokerOptions> = {}): Promise<BrokerFixture> {
  const prefix = `t${randomUUID().slice(0, 8)}`;
  const broker = await redisBroker(server, { ...options, prefix });
  return {
    broker,
    sibling: () => redisBroker(server, { ...options, prefix }),
    cleanup: async () => {
      await broker.close();
      await deletePrefix(server, prefix);
    },
  };
}
