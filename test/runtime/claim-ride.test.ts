/**
 * An idle worker on one Redis server for store and broker: the claim of the node it just took rides in front of
 * its next block, on the consumer's blocking connection, in one write (core/write-carrier.ts): Redis answers the
 * claim first, then blocks. Checked with MONITOR (which client sent each command, in which order) and by
 * counting socket writes per run. With the store on another server nothing rides. A claim whose ride is lost
 * (the link dropped before the reply) is sent again on the store's own connection.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { createApp, type App } from '../../src/index.js';
import { RedisStore } from '../../src/stores/redis/index.js';
import { clientNames, monitor, type Seen } from '../support/redis-monitor.js';
import { countWrites } from '../support/socket-writes.js';
import { RedisServer } from '../support/redis-server.js';
import { requireRedis } from '../support/services.js';

const redis = await requireRedis();

/**
 * Until the warm-up's lingering writes have landed (the ack in `inflight`, the index drop in `active`), so that
 * MONITOR starts on a quiet server: ioredis 5 mistakes a command line that arrives with MONITOR's OK for a reply
 * ("Command queue state error").
 */
async function quiet(url: string, prefix: string): Promise<void> {
  const admin = new Redis(url);
  try {
    const keys = [`${prefix}:q:{default}:inflight`, `${prefix}:active`];
    for (let i = 0; i < 400; i++) {
      const counts = await Promise.all(keys.map((key) => admin.zcard(key)));
      if (counts.every((n) => n === 0)) return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.fail(`${keys.join(', ')} never emptied`);
  } finally {
    admin.disconnect();
  }
}

const isClaim = (s: Seen): boolean => s.args[0]?.toUpperCase() === 'FCALL' && /_claim$/.test(s.args[1] ?? '');
const isBlock = (s: Seen): boolean => s.args[0]?.toUpperCase() === 'BZPOPMIN';

describe('claims ride in the idle consumer\'s block', { skip: redis.skip, timeout: 60_000 }, () => {
  let server: RedisServer;
  let other: RedisServer;
  const apps: App[] = [];
  before(async () => {
    [server, other] = await Promise.all([RedisServer.start(), RedisServer.start()]);
  });
  after(async () => {
    for (const app of apps) await app.close();
    await Promise.all([server?.stop(), other?.stop()]);
  });

  function app(store?: string): App {
    const made = createApp({ broker: server.url, ...(store ? { store } : {}), prefix: `r${apps.length}`, logger: pino({ level: 'silent' }) });
    apps.push(made);
    return made;
  }

  test('the claim goes on the blocking connection, right before its BZPOPMIN, and the task runs', async () => {
    const a = app();
    const add = a.task('add', (_ctx, x: number, y: number) => x + y);
    await a.worker({ concurrency: 4 }).start();
    assert.equal(await (await a.start(add.s(1, 1))).result(), 2); // warm: connected, blocking
    await quiet(server.url, 'r0');
    const mon = await monitor(server.url);
    try {
      for (let i = 0; i < 5; i++) assert.equal(await (await a.start(add.s(i, 10))).result(), i + 10);
      const names = await clientNames(server.url);
      assert.deepEqual(mon.errors, [], 'MONITOR went wrong');
      const claims = mon.seen.filter(isClaim);
      assert.equal(claims.length, 5, 'one claim per run');
      for (const claim of claims) {
        assert.match(names.get(claim.client) ?? '', /^braid-consumer-/, 'the claim came on the consumer\'s blocking connection');
        const after = mon.seen.slice(mon.seen.indexOf(claim) + 1).filter((s) => s.client === claim.client);
        assert.ok(after.length > 0 && after.some(isBlock), 'its block followed on that connection');
        // Between the claim and the block only the lingering acks of this connection (ZREM).
        const upToBlock = after.slice(0, after.findIndex(isBlock));
        for (const s of upToBlock) assert.equal(s.args[0]?.toUpperCase(), 'ZREM', `unexpected ${s.args[0]} between claim and block`);
      }
    } finally {
      mon.stop();
    }
  });

  test('one task at a time costs 3 socket writes: create, claim with the block, complete', async () => {
    const a = app();
    const add = a.task('add', (_ctx, x: number, y: number) => x + y);
    await a.worker({ concurrency: 4 }).start();
    for (let i = 0; i < 5; i++) await (await a.start(add.s(i, i))).result(); // warm: scripts, blocking, subscribed
    const runs = 20;
    const writes = countWrites(server.port);
    try {
      for (let i = 0; i < runs; i++) assert.equal(await (await a.start(add.s(i, 1))).result(), i + 1);
    } finally {
      writes.stop();
    }
    // Per run: the create (index add and pushes in it); the claim, the previous run's lingering ack, BZPOPMIN
    // and take in one write; the complete. On a busy machine an ack's 3 ms linger may run out, and the ack goes
    // alone on the broker's connection; a sweep or the subscriber's PING (every 5 s) may fall in the window.
    // Without the ride: 4 writes per run, 3 of them on the store's connection (create, claim, complete).
    const total = writes.total();
    const busiest = Math.max(...writes.perSocket.values());
    const detail = `${total} socket writes for ${runs} runs, ${[...writes.perSocket.values()].join(' + ')}`;
    assert.ok(total >= 3 * runs && total <= 3.5 * runs, detail);
    assert.ok(busiest <= 2 * runs + 4, `the store's connection wrote more than create and complete: ${detail}`);
  });

  test('with the store on another server the claim goes on the store\'s connection', async () => {
    const prefix = `r${apps.length}`; // app()'s
    const a = app(other.url);
    const add = a.task('add', (_ctx, x: number, y: number) => x + y);
    await a.worker({ concurrency: 4 }).start();
    assert.equal(await (await a.start(add.s(1, 1))).result(), 2);
    await quiet(other.url, prefix);
    const mon = await monitor(other.url);
    try {
      assert.equal(await (await a.start(add.s(2, 3))).result(), 5);
      const names = await clientNames(other.url);
      const claims = mon.seen.filter(isClaim);
      assert.equal(claims.length, 1);
      assert.doesNotMatch(names.get(claims[0]!.client) ?? '', /^braid-consumer-/);
    } finally {
      mon.stop();
    }
  });

  test('a ride whose link drops sends the claim again on the store\'s connection', async () => {
    const prefix = `r${apps.length}`; // app()'s
    const a = app();
    const add = a.task('add', (_ctx, x: number, y: number) => x + y);
    const wf = await a.start(add.s(20, 22)); // stored and queued; no worker consumes this prefix
    const store = new RedisStore({ url: server.url, prefix, logger: pino({ level: 'silent' }) });
    await store.connect();
    const carrier = new (await import('../../src/core/write-carrier.js')).WriteCarrier();
    store.rideWith(carrier);
    const dead = new Redis(server.url, { lazyConnect: true, enableOfflineQueue: true });
    const dropped = new Error('dropped');
    let sentOnLink = 0;
    const link = {
      redis: dead,
      unlessDropped: <T>(work: Promise<T>): Promise<T> => {
        sentOnLink += 1;
        work.catch(() => undefined);
        return Promise.reject(dropped);
      },
    };
    try {
      carrier.expect(link);
      const claimed = store.claim({ workflowId: wf.id, nodeId: 'n0', attempt: 1, task: 'add', token: 't-ride', leaseMs: 30_000 });
      await new Promise((resolve) => process.nextTick(resolve)); // the store hands its claim to the ride
      carrier.board(link);
      const result = await claimed;
      assert.equal(sentOnLink, 1, 'the claim rode first');
      assert.equal(result.status, 'claimed', 'and was claimed on the store\'s own connection');
    } finally {
      dead.disconnect();
      await store.close();
    }
  });
});
