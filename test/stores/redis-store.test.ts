/**
 * The store contract against the Redis store, on a private redis-server for this file. The store reads the
 * server's clock (`TIME`), so tests that need a fake clock are skipped (no `advanceClock`), as the contract
 * harness documents. Each test gets a fresh prefix; its keys are deleted afterwards. The refusal contract
 * proves the Lua scripts refuse every transition the xstate machines refuse (DESIGN inv 1).
 */
import { randomUUID } from 'node:crypto';
import { after, describe } from 'node:test';
import { Redis } from 'ioredis';
import { RedisStore } from '../../src/stores/redis/redis-store.js';
import { storeRefusalContract } from '../contracts/refusal.contract.js';
import { storeContract } from '../contracts/store.contract.js';
import type { StoreFactory } from '../contracts/store/harness.js';
import { RedisServer } from '../support/redis-server.js';
import { requireRedis } from '../support/services.js';

const redis = await requireRedis();
let server: Promise<RedisServer> | undefined;
const serverOnce = (): Promise<RedisServer> => (server ??= RedisServer.start());
after(async () => {
  if (server) await (await server).stop();
});

/** Deletes every key of a prefix (tags `{prefix:...}` and globals `prefix:...`). */
async function dropPrefix(url: string, prefix: string): Promise<void> {
  const client = new Redis(url);
  for (const pattern of [`{${prefix}:*`, `${prefix}:*`]) {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      if (keys.length > 0) await client.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  }
  client.disconnect();
}

const factory: StoreFactory = async ({ history }) => {
  const { url } = await serverOnce();
  const prefix = `t${randomUUID().slice(0, 8)}`;
  const store = new RedisStore({ url, prefix, history: history ?? false });
  await store.connect();
  return {
    store,
    cleanup: async () => {
      await store.close();
      await dropPrefix(url, prefix);
    },
  };
};

describe('redis store', { skip: redis.skip }, () => {
  storeContract('redis', factory, { propertyRuns: 30 });
  storeRefusalContract('redis', factory);
});
