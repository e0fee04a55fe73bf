/**
 * The Redis store's connection (RELIABILITY D4, S7, S8): an unreachable server is a ConfigError in bounded
 * time; startup warns (pino, never console) unless AOF and noeviction, and only warns when an ACL refuses
 * CONFIG GET; the least-privilege ACL user of S8 runs a workflow; the epoch; notifications survive a killed
 * subscriber connection; a Redis restart on its AOF loses nothing and reloads the scripts.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { chain, sig } from '../../src/canvas/builders.js';
import { ConfigError } from '../../src/core/errors.js';
import { RedisStore } from '../../src/stores/redis/redis-store.js';
import type { StoreEvent } from '../../src/stores/store.js';
import { Run } from '../contracts/store/harness.js';
import { freePort, RedisServer, type RedisServerOptions } from '../support/redis-server.js';
import { requireRedis } from '../support/services.js';

const redis = await requireRedis();
const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function startServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const server = await RedisServer.start(options);
  cleanups.push(() => server.stop());
  return server;
}

/** A pino logger writing parsed JSON lines into an array (STYLE: logs asserted as parsed JSON). */
function captureLogs(): { logger: pino.Logger; lines: Array<{ level: number; msg: string }> } {
  const lines: Array<{ level: number; msg: string }> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as { level: number; msg: string });
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

async function connected(url: string, extra: Partial<ConstructorParameters<typeof RedisStore>[0]> = {}): Promise<RedisStore> {
  const store = new RedisStore({ url, prefix: `c${randomUUID().slice(0, 8)}`, ...extra });
  await store.connect();
  cleanups.push(() => store.close());
  return store;
}

const warnings = (lines: Array<{ level: number; msg: string }>): string[] => lines.filter((l) => l.level === 40).map((l) => l.msg);

describe('redis store connection', { skip: redis.skip }, () => {
  test('an unreachable server is a ConfigError within the connect bound; credentials never in the message', async () => {
    const port = await freePort();
    const started = Date.now();
    const store = new RedisStore({ url: `redis://user:s3cret@127.0.0.1:${port}/2`, prefix: 'x', connectTimeoutMs: 1_000 });
    await assert.rejects(store.connect(), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${port}/2`));
      assert.doesNotMatch(error.message, /s3cret/);
      return true;
    });
    assert.ok(Date.now() - started < 5_000);
  });

  test('bad store options are a ConfigError before anything connects', () => {
    const url = 'redis://127.0.0.1:1';
    for (const bad of [{ retentionMs: 0 }, { retentionMs: 1.5 }, { createChunkNodes: 0 }, { cancelChunkNodes: -1 }]) {
      assert.throws(() => new RedisStore({ url, prefix: 'x', ...bad }), ConfigError, JSON.stringify(bad));
    }
  });

  test('warns unless appendonly yes and noeviction; AOF + noeviction is silent', async () => {
    const plain = await startServer({ appendonly: false, extraArgs: ['--maxmemory-policy', 'allkeys-lru'] });
    const a = captureLogs();
    await connected(plain.url, { logger: a.logger });
    assert.equal(warnings(a.lines).length, 2);
    assert.ok(warnings(a.lines).some((m) => /appendonly/.test(m)));
    assert.ok(warnings(a.lines).some((m) => /maxmemory-policy/.test(m)));
    const durable = await startServer();
    const b = captureLogs();
    await connected(durable.url, { logger: b.logger });
    assert.deepEqual(warnings(b.lines), []);
  });

  test('the least-privilege ACL user (S8) runs a workflow; CONFIG GET refused is a warning', async () => {
    const server = await startServer();
    const admin = new Redis(server.url);
    cleanups.push(() => admin.disconnect());
    const prefix = 'acl';
    await admin.call('ACL', 'SETUSER', 'braid', 'on', '>pw', `~{${prefix}:*`, `~${prefix}:*`, `&${prefix}:*`,
      '+@read', '+@write', '+@scripting', '+@pubsub', '+@connection', '+@transaction', '-@dangerous', '+info', '+time');
    const logs = captureLogs();
    const store = await connected(`redis://braid:pw@127.0.0.1:${server.port}`, { prefix, logger: logs.logger });
    assert.ok(warnings(logs.lines).some((m) => /CONFIG GET refused/.test(m)));
    const events: StoreEvent[] = [];
    await store.subscribe((e) => events.push(e));
    const run = new Run(store);
    await run.create(chain(sig('a'), sig('b')));
    await run.run('n0', 1);
    assert.equal((await run.run('n1', 2)).settled, 'succeeded');
    assert.equal((await store.sweep({ republishAfterMs: 0 })).ready.length, 0);
    while (events.length === 0) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(events, [{ type: 'settled', workflowId: run.id, state: 'succeeded', result: '2' }]);
  });

  test('epoch: kept across stores and restarts on AOF; a wiped server has none, then a new one', async () => {
    const server = await startServer();
    const one = await connected(server.url, { prefix: 'ep' });
    const epoch = await one.epoch();
    assert.match(epoch ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(await (await connected(server.url, { prefix: 'ep' })).epoch(), epoch);
    const run = new Run(one);
    await run.create(chain(sig('a'), sig('b')));
    await run.run('n0', 'A');
    await new Promise((r) => setTimeout(r, 1_200)); // appendfsync everysec
    await server.restart();
    assert.equal(await one.epoch(), epoch);
    assert.equal((await run.run('n1', 'B')).settled, 'succeeded'); // scripts reloaded after NOSCRIPT
    await server.restart({ wipe: true });
    assert.equal(await one.epoch(), null);
    const fresh = await connected(server.url, { prefix: 'ep' });
    const next = await fresh.epoch();
    assert.ok(next && next !== epoch);
    assert.equal(await one.epoch(), next);
  });

  test('notifications survive a killed subscriber connection (re-subscribe)', async () => {
    const server = await startServer();
    const store = await connected(server.url);
    const events: StoreEvent[] = [];
    await store.subscribe((e) => events.push(e));
    const admin = new Redis(server.url);
    cleanups.push(() => admin.disconnect());
    await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    const run = new Run(store);
    await run.create(sig('a'));
    for (let i = 0; events.length === 0 && i < 400; i++) {
      // Until the subscriber is back, a settle would be missed: cancel a fresh workflow each round instead.
      const probe = new Run(store);
      await probe.create(sig('p'));
      await store.cancel(probe.id);
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(events.some((e) => e.type === 'canceled'));
    const count = events.length;
    assert.equal((await run.run('n0', 1)).settled, 'succeeded');
    while (events.length === count) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(events.at(-1), { type: 'settled', workflowId: run.id, state: 'succeeded', result: '1' });
  });
});
