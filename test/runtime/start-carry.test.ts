/**
 * `app.start` on one Redis server for store and broker: the roots' publishes ride behind the create on the
 * store's connection, in the same write (kernel.ts createAndPublish), so Redis runs them after the create and
 * a start costs one round trip. Checked with MONITOR (command order and client of each command) and by
 * counting the socket writes of the start. A root with a countdown needs the broker's delayed set: that start
 * creates, then publishes, as before. Store and broker on different servers: create, then publish.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { chain, createApp, group, type App } from '../../src/index.js';
import { monitor, until } from '../support/redis-monitor.js';
import { countWrites } from '../support/socket-writes.js';
import { RedisServer } from '../support/redis-server.js';
import { requireRedis } from '../support/services.js';

const redis = await requireRedis();

describe('start on one Redis server', { skip: redis.skip, timeout: 60_000 }, () => {
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
    const made = createApp({ broker: server.url, ...(store ? { store } : {}), prefix: `c${apps.length}`, logger: pino({ level: 'silent' }) });
    apps.push(made);
    return made;
  }

  test('the roots\' publishes follow the create on the store\'s connection, in one write, and run', async () => {
    const a = app();
    const add = a.task('add', (_ctx, x: number, y: number) => x + y);
    await a.start(add.s(0, 0)); // connected, scripts and queues in place
    const mon = await monitor(server.url);
    const writes = countWrites(server.port);
    let wf;
    try {
      wf = await a.start(group(add.s(1, 2), add.s(3, 4)));
    } finally {
      writes.stop();
    }
    await until(mon.seen, (s) => s.args[0] === 'ZADD' && s.args[1]?.endsWith(':marker') === true);
    mon.stop();
    const create = mon.seen.findIndex((s) => s.args[0]?.toLowerCase() === 'fcall' && /_create/.test(s.args[1] ?? ''));
    assert.ok(create >= 0, 'no create FCALL');
    const byCreate = mon.seen[create]!.client;
    const pushes = mon.seen.filter((s) => s.args[0] === 'RPUSH' && s.client !== 'lua' && /:q:/.test(s.args[1] ?? ''));
    // Both roots in one RPUSH (the pushes of one create call are grouped per list), on the create's connection.
    assert.deepEqual(pushes.map((p) => p.args.length), [4]);
    for (const push of pushes) {
      assert.equal(push.client, byCreate, 'a publish went on another connection');
      assert.ok(mon.seen.indexOf(push) > create, 'a publish ran before the create');
    }
    assert.equal(mon.seen.filter((s) => /evalsha|eval/i.test(s.args[0] ?? '')).length, 0, 'the broker published on its own');
    // The index write, the create and the publishes: one write, on one connection.
    assert.deepEqual([...writes.perSocket.values()], [1]);
    await a.worker().start();
    assert.deepEqual(await wf.result(), [3, 7]);
  });

  test('the starts of one tick push together: one RPUSH and one marker per create call', async () => {
    const a = app();
    const add = a.task('add', (_ctx, x: number, y: number) => x + y);
    await a.start(add.s(0, 0));
    const mon = await monitor(server.url);
    const wfs = await Promise.all(Array.from({ length: 50 }, (_, i) => a.start(add.s(i, 1))));
    await until(mon.seen, (s) => s.args[0] === 'ZADD' && s.args[1]?.endsWith(':marker') === true);
    mon.stop();
    const calls = mon.seen.filter((s) => s.args[0]?.toLowerCase() === 'fcall' && /_create/.test(s.args[1] ?? '')).length;
    const pushes = mon.seen.filter((s) => s.args[0] === 'RPUSH' && s.client !== 'lua');
    assert.equal(pushes.length, calls);
    assert.equal(pushes.reduce((n, p) => n + p.args.length - 2, 0), 50);
    assert.equal(mon.seen.filter((s) => s.args[0] === 'ZADD' && s.args[1]?.endsWith(':marker') === true && s.client !== 'lua').length, calls);
    await a.worker().start();
    assert.deepEqual(await Promise.all(wfs.map((wf) => wf.result())), Array.from({ length: 50 }, (_, i) => i + 1));
  });

  test('a root with a countdown is published by the broker, after the create', async () => {
    const a = app();
    const add = a.task('add', (_ctx, x: number, y: number) => x + y);
    await a.start(add.s(0, 0));
    // MONITOR starts while the server is quiet: ioredis can misread its first lines under traffic.
    const mon = await monitor(server.url);
    await a.worker().start();
    const wf = await a.start(chain(add.s(1, 1).set({ countdownMs: 20 }), add.s(5)));
    assert.equal(await wf.result(), 7);
    mon.stop();
    // Sent by no client (the take script's promotion of the due entry runs RPUSH inside Lua).
    assert.equal(mon.seen.filter((s) => s.args[0] === 'RPUSH' && s.client !== 'lua').length, 0);
    assert.ok(mon.seen.some((s) => /evalsha/i.test(s.args[0] ?? '')), 'no broker script ran');
  });

  test('store and broker on different servers: create on one, publish on the other', async () => {
    const a = app(other.url);
    const add = a.task('add', (_ctx, x: number, y: number) => x + y);
    const mon = await monitor(other.url);
    await a.worker().start();
    assert.equal(await (await a.start(add.s(2, 3))).result(), 5);
    mon.stop();
    assert.equal(mon.seen.filter((s) => s.args[0] === 'RPUSH' && s.client !== 'lua').length, 0, 'a publish landed on the store\'s server');
  });
});
