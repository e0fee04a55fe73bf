/**
 * DESIGN inv 9 (bounded memory) for the Redis consumer: an idle consumer woken again and again keeps nothing per
 * wake. Each block raced a promise that lives as long as the blocking connection, which kept one reaction, and
 * with it the block's reply (the taken entries), per wake: about 800 bytes per message on a worker that runs one
 * task at a time, found in a heap snapshot of bench (d). Measured here as heap growth after a full GC across
 * many wake cycles; the bound (400 bytes) is above the noise (under 150 here) and half that leak.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Inbox } from '../contracts/inbox.js';
import { RedisServer } from '../support/redis-server.js';
import { requireRedis } from '../support/services.js';
import { redisBroker } from './redis-fixture.js';

const redis = await requireRedis();
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe('redis consumer memory', { skip: redis.skip, timeout: 120_000 }, () => {
  let server: RedisServer;
  before(async () => {
    server = await RedisServer.start();
  });
  after(async () => {
    await server?.stop();
  });

  it('keeps no memory per wake of an idle consumer', async () => {
    const broker = await redisBroker(server);
    const inbox = new Inbox().onEach((delivery) => void delivery.ack());
    const consumer = await broker.consume(['q'], { prefetch: 4 }, inbox.onDelivery);
    // One message at a time to a consumer with room to spare: it blocks on the queue's marker as soon as it has
    // taken one, so each message is a wake.
    const cycle = async (count: number): Promise<void> => {
      for (let i = 0; i < count; i++) {
        const next = inbox.items.length + 1; // counted before the publish: its delivery may come before it resolves
        await broker.publish('q', Buffer.from(`{"n":${next},"pad":"${'x'.repeat(100)}"}`));
        await inbox.waitFor(next, 5_000);
      }
    };
    // Warm-up: code compiled by the JIT on the first thousands of wakes grows the heap too, and stays.
    await cycle(3_000);
    inbox.items.length = 0;
    const before = heapAfterGc();
    const wakes = 3_000;
    await cycle(wakes);
    inbox.items.length = 0;
    const perWake = (heapAfterGc() - before) / wakes;
    await consumer.stop();
    await broker.close();
    assert.ok(perWake < 400, `heap grew ${perWake.toFixed(0)} bytes per wake`);
  });
});
