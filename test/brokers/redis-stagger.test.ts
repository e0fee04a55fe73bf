/**
 * The Redis consumer hands a take round of more than half its prefetch out in two halves, a turn apart
 * (redis-consumer.ts handOutStaggered), so a worker whose slots all came back at once does not move in lockstep
 * with Redis. The halves are observed as runs of deliveries made in one synchronous stretch (a microtask ends a
 * run). The second half counts against the prefetch from the take on, and a stop before its turn gives it back
 * instead of handing it out.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { Consumer, Delivery } from '../../src/brokers/broker.js';
import { queueKeys } from '../../src/brokers/redis/keys.js';
import type { RedisBroker } from '../../src/brokers/redis/redis-broker.js';
import { Inbox } from '../contracts/inbox.js';
import { RedisServer } from '../support/redis-server.js';
import { requireRedis } from '../support/services.js';
import { redisBroker } from './redis-fixture.js';

const redis = await requireRedis();

/** Sizes of the runs of deliveries `inbox` received within one synchronous stretch each, in order. */
function runsOf(inbox: Inbox): number[] {
  const runs: number[] = [];
  let open = false;
  inbox.onEach(() => {
    if (!open) {
      runs.push(0);
      open = true;
      queueMicrotask(() => (open = false));
    }
    runs[runs.length - 1] = (runs[runs.length - 1] as number) + 1;
  });
  return runs;
}

describe('redis broker: staggered hand-out', { skip: redis.skip, timeout: 60_000 }, () => {
  let server: RedisServer;
  let admin: Redis;
  const brokers: RedisBroker[] = [];
  before(async () => {
    server = await RedisServer.start({ appendonly: false });
    admin = new Redis(server.url);
  });
  afterEach(async () => {
    for (const broker of brokers.splice(0)) await broker.close();
  });
  after(async () => {
    admin?.disconnect();
    await server?.stop();
  });

  /** A broker under `prefix` with `count` messages published to queue `q` before anyone consumes. */
  async function queued(prefix: string, count: number): Promise<RedisBroker> {
    const broker = await redisBroker(server, { prefix });
    brokers.push(broker);
    await Promise.all(Array.from({ length: count }, (_, i) => broker.publish('q', Buffer.from(String(i)))));
    assert.equal(await admin.llen(queueKeys(prefix, 'q').lists[0] as string), count, 'every message waits in the ready list');
    return broker;
  }

  it('hands a round that fills the prefetch out in two halves, the second a turn later', async () => {
    const broker = await queued('halves', 100);
    const inbox = new Inbox();
    const runs = runsOf(inbox);
    await broker.consume(['q'], { prefetch: 100, leaseMs: 30_000 }, inbox.onDelivery);
    await inbox.waitFor(100);
    assert.deepEqual(runs, [50, 50]);
    assert.deepEqual(inbox.bodies().map(Number).sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i), 'each message once');
  });

  it('hands a round of at most half the prefetch, or a small round, out at once', async () => {
    const broker = await queued('whole', 40);
    const inbox = new Inbox();
    const runs = runsOf(inbox);
    await broker.consume(['q'], { prefetch: 100, leaseMs: 30_000 }, inbox.onDelivery);
    await inbox.waitFor(40);
    assert.deepEqual(runs, [40], 'a round of 40 of a prefetch of 100');

    const small = await queued('small', 20);
    const smallInbox = new Inbox();
    const smallRuns = runsOf(smallInbox);
    await small.consume(['q'], { prefetch: 20, leaseMs: 30_000 }, smallInbox.onDelivery);
    await smallInbox.waitFor(20);
    assert.deepEqual(smallRuns, [20], 'a round of 20, below the stagger minimum, fills a prefetch of 20');
  });

  it('counts the second half against the prefetch from the take on', async () => {
    const prefix = 'bound';
    const broker = await queued(prefix, 150);
    const inbox = new Inbox();
    await broker.consume(['q'], { prefetch: 100, leaseMs: 30_000 }, inbox.onDelivery);
    const held = await inbox.waitFor(100);
    // One slot frees: the consumer takes one more on the connection it took the first round on, so a take made
    // for room the second half should have filled would have answered before this one.
    await (held[0] as Delivery).ack();
    await inbox.waitFor(101);
    assert.equal(inbox.items.length, 101, 'no more than the prefetch was ever held');
    assert.equal(await admin.zcard(queueKeys(prefix, 'q').inflight), 100, 'in flight: the prefetch');
    assert.equal(await admin.llen(queueKeys(prefix, 'q').lists[0] as string), 49, 'the rest waits');
  });

  it('gives the second half back when the consumer stops before its turn', async () => {
    const prefix = 'stopped';
    const broker = await queued(prefix, 100);
    const inbox = new Inbox();
    let stopping: Promise<void> | undefined;
    let consumer: Consumer | undefined;
    consumer = await broker.consume(['q'], { prefetch: 100, leaseMs: 30_000 }, (delivery) => {
      inbox.onDelivery(delivery);
      assert.ok(consumer, 'deliveries come after consume() answered');
      stopping ??= consumer.stop();
    });
    await inbox.waitFor(1);
    await stopping;
    // Let any turn the hand-out scheduled run.
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(inbox.items.length, 50, 'only the first half was handed out');
    // Given back: each entry stays in the in-flight set with score 0, for the next take to reclaim (keys.ts).
    assert.equal(await admin.zcount(queueKeys(prefix, 'q').inflight, 0, 0), 100, 'every message given back');
  });
});
