/**
 * Publish batching of the Redis broker (src/brokers/redis/publish-batcher.ts): the publishes of one tick to one
 * queue go as one script call (ready entries of every priority in one, delayed ones in another), at most 1,000
 * entries per call; each list keeps publish order; a call that fails rejects every publish in it and no other.
 * Calls are counted with the server's own `INFO commandstats` on a private server.
 */
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { RedisBroker } from '../../src/brokers/redis/redis-broker.js';
import { queueKeys } from '../../src/brokers/redis/keys.js';
import { Inbox } from '../contracts/inbox.js';
import { RedisServer } from '../support/redis-server.js';
import { requireRedis } from '../support/services.js';
import { redisBroker } from './redis-fixture.js';

const redis = await requireRedis();

/** Calls of `command` the server ran since the last `CONFIG RESETSTAT` (Lua-internal ones included). */
async function calls(admin: Redis, ...commands: string[]): Promise<number> {
  const stats = await admin.info('commandstats');
  let total = 0;
  for (const command of commands) total += Number(new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(stats)?.[1] ?? 0);
  return total;
}

/** Consumes `queues` until `count` deliveries arrived (acking each), then stops; the deliveries' queues and bodies. */
async function drain(broker: RedisBroker, queues: string[], count: number): Promise<Array<{ queue: string; body: string }>> {
  const inbox = new Inbox().onEach((delivery) => void delivery.ack());
  const consumer = await broker.consume(queues, { prefetch: 1_000 }, inbox.onDelivery);
  await inbox.waitFor(count, 20_000);
  await consumer.stop();
  return inbox.items.map((delivery) => ({ queue: delivery.queue, body: delivery.body.toString() }));
}

describe('redis broker publish batching', { skip: redis.skip }, () => {
  let server: RedisServer;
  let admin: Redis;
  before(async () => {
    server = await RedisServer.start({ appendonly: false });
    admin = new Redis(server.url);
  });
  beforeEach(async () => {
    await admin.config('RESETSTAT');
  });
  after(async () => {
    admin?.disconnect();
    await server?.stop();
  });

  it('sends one tick of publishes to several queues and priorities as one call per queue, each list in order', async () => {
    const broker = await redisBroker(server);
    try {
      const queues = ['q0', 'q1', 'q2'];
      const sent = Array.from({ length: 300 }, (_, i) => ({ queue: queues[i % 3] as string, priority: (i * 7) % 4, body: `m${i}` }));
      await Promise.all(sent.map(({ queue, priority, body }) => broker.publish(queue, Buffer.from(body), { priority })));
      assert.equal(await calls(admin, 'evalsha', 'eval'), queues.length);
      assert.equal(await calls(admin, 'rpush'), queues.length * 4);
      const got = await drain(broker, queues, sent.length);
      assert.equal(got.length, sent.length);
      for (const queue of queues) {
        const mine = got.filter((delivery) => delivery.queue === queue).map((delivery) => delivery.body);
        assert.deepEqual([...mine].sort(), sent.filter((m) => m.queue === queue).map((m) => m.body).sort());
        for (let priority = 3; priority >= 0; priority -= 1) {
          const expected = sent.filter((m) => m.queue === queue && m.priority === priority).map((m) => m.body);
          assert.deepEqual(mine.filter((body) => expected.includes(body)), expected, `${queue} priority ${priority}`);
        }
      }
    } finally {
      await broker.close();
    }
  });

  it('rejects every publish of a call that fails, and only those', async () => {
    const prefix = 'batch-fail';
    const broker = await redisBroker(server, { prefix });
    try {
      await admin.set(queueKeys(prefix, 'bad').lists[2] as string, 'not a list');
      const outcomes = await Promise.allSettled(Array.from({ length: 20 }, (_, i) =>
        broker.publish(i % 2 === 0 ? 'bad' : 'good', Buffer.from(`m${i}`), { priority: 2 })));
      const bad = outcomes.filter((_, i) => i % 2 === 0);
      const good = outcomes.filter((_, i) => i % 2 === 1);
      assert.ok(bad.every((outcome) => outcome.status === 'rejected' && /WRONGTYPE/.test(String(outcome.reason))), JSON.stringify(bad));
      assert.ok(good.every((outcome) => outcome.status === 'fulfilled'));
      assert.equal(await admin.llen(queueKeys(prefix, 'good').lists[2] as string), 10);
      await admin.del(queueKeys(prefix, 'bad').lists[2] as string);
      await broker.purge(['good']);
    } finally {
      await broker.close();
    }
  });

  it('stores one tick of delayed publishes to a queue with one call, and delivers each', async () => {
    const prefix = 'batch-delay';
    const broker = await redisBroker(server, { prefix });
    try {
      const delayed = Array.from({ length: 50 }, (_, i) => broker.publish('later', Buffer.from(`d${i}`), { delayMs: 20 + (i % 10) * 20 }));
      const ready = Array.from({ length: 5 }, (_, i) => broker.publish('later', Buffer.from(`r${i}`)));
      await Promise.all([...delayed, ...ready]);
      assert.equal(await calls(admin, 'evalsha', 'eval'), 2);
      assert.equal(await admin.zcard(queueKeys(prefix, 'later').delayed), 50);
      assert.equal(await admin.zcard(queueKeys(prefix, 'later').marker), 1);
      const got = await drain(broker, ['later'], 55);
      assert.deepEqual(got.map((delivery) => delivery.body).sort(), [
        ...Array.from({ length: 50 }, (_, i) => `d${i}`), ...Array.from({ length: 5 }, (_, i) => `r${i}`),
      ].sort());
    } finally {
      await broker.close();
    }
  });

  it('closes a call once its entries reach 4 MiB: ten 1 MiB bodies in one tick go as three calls', async () => {
    const broker = await redisBroker(server);
    try {
      const bodies = Array.from({ length: 10 }, (_, i) => Buffer.alloc(1024 * 1024, 97 + i));
      await Promise.all(bodies.map((body) => broker.publish('large', body)));
      assert.equal(await calls(admin, 'evalsha', 'eval'), 3);
      const got = await drain(broker, ['large'], bodies.length);
      assert.deepEqual(got.map((delivery) => [delivery.body.length, delivery.body.charCodeAt(0)]), bodies.map((body) => [body.length, body[0]]));
    } finally {
      await broker.close();
    }
  });

  it('splits a tick of 10,000 publishes into calls of at most 1,000 entries, nothing lost or reordered', async () => {
    const broker = await redisBroker(server);
    try {
      const total = 10_000;
      await Promise.all(Array.from({ length: total }, (_, i) => broker.publish('big', Buffer.from(`${i}`), { priority: i % 2 })));
      assert.equal(await calls(admin, 'evalsha', 'eval'), total / 1_000);
      const got = (await drain(broker, ['big'], total)).map((delivery) => Number(delivery.body));
      for (const priority of [0, 1]) {
        const mine = got.filter((i) => i % 2 === priority);
        assert.equal(mine.length, total / 2);
        assert.deepEqual(mine, [...mine].sort((x, y) => x - y), `priority ${priority} out of order`);
      }
    } finally {
      await broker.close();
    }
  });
});
