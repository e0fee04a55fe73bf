/**
 * Acks on the Redis broker linger for a write the broker makes anyway (ack-batcher.ts): they leave in the
 * write of an idle consumer's next block and take, or of the next publish, or on their own when the linger
 * ends; `stop()` and `close()` send what lingers and wait for it; the linger is capped by the lease, so a
 * lingering ack never lets its lease lapse (no redelivery). Writes are counted where a socket hands them to
 * the kernel (`_write`, or `_writev` for what a cork gathered), as test/runtime/start-carry.test.ts does.
 */
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, afterEach, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { Delivery } from '../../src/brokers/broker.js';
import { AckBatcher } from '../../src/brokers/redis/ack-batcher.js';
import { queueKeys } from '../../src/brokers/redis/keys.js';
import type { RedisBroker } from '../../src/brokers/redis/redis-broker.js';
import { Inbox } from '../contracts/inbox.js';
import { RedisServer } from '../support/redis-server.js';
import { requireRedis } from '../support/services.js';
import { redisBroker } from './redis-fixture.js';
import { countWrites } from '../support/socket-writes.js';

const redis = await requireRedis();

describe('redis broker: lingering acks', { skip: redis.skip, timeout: 60_000 }, () => {
  let server: RedisServer;
  let admin: Redis;
  const brokers: RedisBroker[] = [];
  before(async () => {
    server = await RedisServer.start({ appendonly: false });
    admin = new Redis(server.url);
  });
  // Each test's brokers are closed after it, so the next one sees only its own consumers.
  afterEach(async () => {
    for (const broker of brokers.splice(0)) await broker.close();
  });
  after(async () => {
    admin?.disconnect();
    await server?.stop();
  });

  async function broker(options: Parameters<typeof redisBroker>[1] = {}): Promise<RedisBroker> {
    const made = await redisBroker(server, options);
    brokers.push(made);
    return made;
  }

  /** Until `check()` holds, asked every few ms (bounded): a state of the server, which sends no event. */
  async function until(check: () => Promise<boolean>, what: string, boundMs = 10_000): Promise<void> {
    const deadline = Date.now() + boundMs;
    while (!(await check())) {
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }

  /** Whether a consumer's blocking connection (the test's only one) is blocked in BZPOPMIN right now. */
  async function aConsumerBlocks(): Promise<boolean> {
    const clients = (await admin.client('LIST')) as string;
    return clients.split('\n').some((line) => /name=braid-consumer-/.test(line) && /flags=\S*b/.test(line));
  }

  /** Whether `entry` is still in `queue`'s in-flight set. */
  async function inFlight(prefix: string, queue: string, delivery: Delivery): Promise<boolean> {
    const entry = (delivery as unknown as { entry: Buffer }).entry;
    return (await admin.zscore(queueKeys(prefix, queue).inflight, entry)) !== null;
  }

  /** A consumer of queue `q` holding one delivery, blocked again for more (published by `via`, or its own broker). */
  async function idleHolding(prefix: string, ackLingerMs: number, leaseMs: number, via?: RedisBroker) {
    const consuming = await broker({ prefix, ackLingerMs });
    const inbox = new Inbox();
    const consumer = await consuming.consume(['q'], { prefetch: 10, leaseMs }, inbox.onDelivery);
    await (via ?? consuming).publish('q', Buffer.from('a'));
    const [held] = (await inbox.waitFor(1)) as [Delivery];
    await until(aConsumerBlocks, 'the consumer to block again');
    return { consuming, consumer, inbox, held };
  }

  it('lingers, then leaves in the write of the idle consumer\'s next block and take', async () => {
    const prefix = 'ride';
    const publisher = await broker({ prefix });
    const { inbox, held: a } = await idleHolding(prefix, 60_000, 600_000, publisher);
    const writes = countWrites(server.port, [admin.stream]);
    try {
      await a.ack();
      assert.ok(await inFlight(prefix, 'q', a), 'the ack left at once');
      await publisher.publish('q', Buffer.from('b'));
      await inbox.waitFor(2);
      await until(async () => !(await inFlight(prefix, 'q', a)), 'the ack to be applied');
      await until(aConsumerBlocks, 'the consumer to block again');
    } finally {
      writes.stop();
    }
    // The publish, then the ack, the block and the take in one write of the consumer's blocking connection;
    // without lingering, the ack is a write of its own on the command connection (three writes).
    assert.deepEqual([...writes.perSocket.values()], [1, 1]);
  });

  it('lingers, then leaves in the write of the next publish', async () => {
    const prefix = 'ride-publish';
    const { consuming, held: a } = await idleHolding(prefix, 60_000, 600_000);
    const writes = countWrites(server.port, [admin.stream]);
    try {
      await a.ack();
      assert.ok(await inFlight(prefix, 'q', a), 'the ack left at once');
      await consuming.publish('elsewhere', Buffer.from('b'));
      assert.equal(await inFlight(prefix, 'q', a), false, 'the ack did not leave with the publish');
    } finally {
      writes.stop();
    }
    assert.deepEqual([...writes.perSocket.values()], [1]);
  });

  it('leaves on its own when the linger ends, when nothing else is written', async () => {
    const prefix = 'alone';
    const lingerMs = 300;
    const { held: a } = await idleHolding(prefix, lingerMs, 60_000);
    const acked = performance.now();
    await a.ack();
    assert.ok(await inFlight(prefix, 'q', a), 'the ack left at once');
    await until(async () => !(await inFlight(prefix, 'q', a)), 'the ack to be applied');
    const tookMs = performance.now() - acked;
    // Node may fire a timer up to 1 ms early; the upper bound leaves room for a busy machine.
    assert.ok(tookMs >= lingerMs - 1, `left after ${tookMs.toFixed(1)} ms, before the ${lingerMs} ms linger ended`);
    assert.ok(tookMs < lingerMs + 2_000, `left after ${tookMs.toFixed(1)} ms, long after the ${lingerMs} ms linger`);
  });

  it('stop() and close() send what lingers and return once Redis applied it', async () => {
    const prefix = 'flush';
    const { consuming, consumer, held: a } = await idleHolding(prefix, 60_000, 600_000);
    await a.ack();
    assert.ok(await inFlight(prefix, 'q', a), 'the ack left at once');
    await consumer.stop();
    assert.equal(await inFlight(prefix, 'q', a), false, 'stop() returned with the ack still lingering');
    // An ack while the broker's consumer runs, then close(): close stops the consumer and sends the ack.
    const second = new Inbox();
    await consuming.consume(['q'], { prefetch: 10, leaseMs: 600_000 }, second.onDelivery);
    await consuming.publish('q', Buffer.from('b'));
    const [b] = (await second.waitFor(1)) as [Delivery];
    await until(aConsumerBlocks, 'the consumer to block again');
    await b.ack();
    assert.ok(await inFlight(prefix, 'q', b), 'the ack left at once');
    await consuming.close();
    assert.equal(await inFlight(prefix, 'q', b), false, 'close() returned with the ack still lingering');
    const keys = queueKeys(prefix, 'q');
    assert.equal(await admin.zcard(keys.inflight), 0);
    for (const list of keys.lists) assert.equal(await admin.llen(list), 0, 'an acked message was given back');
  });

  it('sends again on the command connection an ack whose other connection was dropped, or is not ready', async () => {
    const command = new Redis(server.url);
    // Another connection whose ZREM cannot remove anything here (another db), dropped by its guard at once.
    const other = new Redis(server.port, '127.0.0.1', { db: 1 });
    const closed = new Redis(server.url, { lazyConnect: true });
    try {
      await other.ping();
      const key = 'fallback:inflight';
      await admin.zadd(key, 1, 'x', 2, 'y');
      const acks = new AckBatcher(command, undefined);
      acks.ack(key, Buffer.from('x'), 60_000);
      const dropped = new Error('dropped');
      acks.flushVia(other, (work) => {
        work.catch(() => undefined);
        return Promise.reject(dropped);
      });
      acks.ack(key, Buffer.from('y'), 60_000);
      acks.flushVia(closed, (work) => work); // not ready: y keeps lingering
      assert.equal(await admin.zscore(key, 'y'), '2');
      await acks.flush(); // y, and x sent again (flush waits for it)
      assert.deepEqual(await admin.zrange(key, 0, -1), []);
    } finally {
      for (const client of [command, other, closed]) client.disconnect();
    }
  });

  it('never lingers past a short lease: the ack lands before the lease lapses, no redelivery', async () => {
    const prefix = 'short-lease';
    const leaseMs = 1_000;
    // Asked to linger a minute: capped at a twentieth of the lease.
    const consuming = await broker({ prefix, ackLingerMs: 60_000 });
    const holder = new Inbox();
    await consuming.consume(['q'], { prefetch: 10, leaseMs }, holder.onDelivery);
    await consuming.publish('q', Buffer.from('a'));
    const [a] = (await holder.waitFor(1)) as [Delivery];
    // A second consumer of the queue, which would take the message again once its lease lapsed.
    const watcher = new Inbox();
    const other = await broker({ prefix, blockMs: 100 });
    await other.consume(['q'], { prefetch: 10, leaseMs }, watcher.onDelivery);
    const redelivered = new Promise<boolean>((resolve) => watcher.onEach(() => resolve(true)));
    await a.ack();
    let raced = false;
    const applied = until(async () => raced || !(await inFlight(prefix, 'q', a)), 'the ack to be applied', 30_000).then(() => false);
    const outcome = await Promise.race([redelivered, applied]);
    raced = true;
    assert.equal(outcome, false, 'the message was redelivered: the ack outlived its lease');
    assert.equal(watcher.items.length, 0);
  });
});
