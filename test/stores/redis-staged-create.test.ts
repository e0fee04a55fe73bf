/**
 * Staged creates of the Redis store (redis-store.ts createAndSend, lua/stage.lua, lib.lua takeStage): a graph
 * of more nodes than `createChunkNodes` goes ahead in chunks to staging keys, which its create moves into place.
 * It must store exactly what a create in one call stores, run to the same result, get its retention on every
 * key, and leave nothing visible or behind when a chunk is missing, the workflow exists, or the create never
 * comes.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { chain, chord, group, sig } from '../../src/canvas/builders.js';
import { CODE } from '../../src/stores/redis/codes.js';
import { createArgs, createRows } from '../../src/stores/redis/encode.js';
import { decodeNodeRecord } from '../../src/stores/redis/node-record.js';
import { RedisStore } from '../../src/stores/redis/redis-store.js';
import { storeLibrary } from '../../src/stores/redis/scripts.js';
import { Run, storedGraph } from '../contracts/store/harness.js';
import { RedisServer } from '../support/redis-server.js';
import { requireRedis } from '../support/services.js';

const redis = await requireRedis();

/** A canvas with roots (one with a countdown), a chain inside a chord, fan-in, an errback: 13 nodes. */
const canvas = () => chord(
  [sig('h', [1]), sig('h', [2], { countdownMs: 50 }), chain(sig('a', [3]), sig('b')), ...Array.from({ length: 8 }, (_, i) => sig('h', [10 + i]))],
  sig('sum'),
).onError(sig('eb'));

/** Record fields that hold store times, which differ between two creates. */
const TIMES = new Set(['q', 'nb']);

describe('redis store: staged creates', { skip: redis.skip }, () => {
  let server: RedisServer;
  let raw: Redis;
  const stores: RedisStore[] = [];
  before(async () => {
    server = await RedisServer.start();
    raw = new Redis(server.url);
  });
  after(async () => {
    for (const store of stores) await store.close();
    raw?.disconnect();
    await server?.stop();
  });

  async function open(createChunkNodes?: number): Promise<RedisStore> {
    const store = new RedisStore({ url: server.url, prefix: `sc${randomUUID().slice(0, 8)}`, ...(createChunkNodes ? { createChunkNodes } : {}) });
    await store.connect();
    stores.push(store);
    return store;
  }

  /** Everything a workflow's keys hold, with store times left out of node records. */
  async function stored(store: RedisStore, id: string): Promise<Record<string, unknown>> {
    const key = (name: Parameters<RedisStore['keys']['key']>[1]) => store.keys.key(id, name);
    const records = await raw.hgetallBuffer(key('node'));
    const wf = await raw.hgetall(key('wf'));
    return {
      wf: Object.fromEntries(['state', 'open', 'failed', 'ebn', 'run', 'km', 'recipe'].map((f) => [f, wf[f]])),
      order: await raw.lrange(key('order'), 0, -1),
      spec: await raw.hgetall(key('spec')),
      node: Object.fromEntries(Object.entries(records).map(([nodeId, text]) => [nodeId,
        Object.fromEntries(Object.entries(decodeNodeRecord(text)).filter(([f]) => !TIMES.has(f)))])),
      deps: await raw.hgetall(key('deps')),
      next: await raw.hgetall(key('next')),
      input: await raw.hgetall(key('input')),
      eb: await raw.hgetall(key('eb')),
      // As a set: roots staged ahead are queued at their chunk's store time, a little before the create's.
      ready: (await raw.zrange(key('ready'), 0, -1)).sort(),
    };
  }

  async function stagingKeys(store: RedisStore): Promise<string[]> {
    return raw.keys(`{${store.keys.prefix}:*}:stage:*`);
  }

  test('stores what a create in one call stores', async () => {
    const staged = await open(4);
    const whole = await open();
    const a = new Run(staged);
    const b = new Run(whole);
    assert.equal((await a.create(canvas())).created, true);
    assert.equal((await b.create(canvas())).created, true);
    assert.deepEqual(await stored(staged, a.id), await stored(whole, b.id));
    assert.deepEqual(await stagingKeys(staged), [], 'the create took every staging key');
    for (const key of await raw.keys(`${staged.keys.tag(a.id)}*`)) assert.equal(await raw.pttl(key), -1, `${key} lives until the settle`);
    assert.deepEqual((await a.snapshot()).nodes, (await b.snapshot()).nodes.map((n) => ({ ...n })));
  });

  test('runs to the same result, and a settle sets the retention on every key it took', async () => {
    const store = await open(3);
    const run = new Run(store);
    await run.create(chord(Array.from({ length: 10 }, (_, i) => sig('h', [i])), sig('sum')));
    for (let i = 0; i < 10; i++) await run.run(`n${i}`, i);
    const last = await run.run('n10', 45);
    assert.equal(last.settled, 'succeeded');
    const keys = await raw.keys(`${store.keys.tag(run.id)}*`);
    assert.ok(keys.length >= 6, `keys: ${keys.join(' ')}`);
    for (const key of keys) assert.ok((await raw.pttl(key)) > 0, `${key} has the retention`);
    assert.deepEqual(await stagingKeys(store), []);
  });

  test('an existing workflow is not created again, and its staging is dropped', async () => {
    const store = await open(4);
    const run = new Run(store);
    assert.equal((await run.create(canvas())).created, true);
    const before = await stored(store, run.id);
    assert.equal((await run.create(canvas())).created, false);
    assert.deepEqual(await stored(store, run.id), before);
    assert.deepEqual(await stagingKeys(store), []);
  });

  describe('by script', () => {
    const library = storeLibrary();
    const graph = storedGraph(group(Array.from({ length: 12 }, (_, i) => sig('g', [i]))));

    /** FCALL of `script` for workflow `id` of `store`, with the store's common arguments. */
    function call(store: RedisStore, script: 'stage' | 'create', id: string, args: string[]): Promise<unknown> {
      return raw.call('FCALL', library.functionName(script), '1', store.keys.wf(id), id, '0', '60000', store.keys.events, ...args);
    }

    function stageArgs(sid: string, index: number, from: number, to: number): string[] {
      const args = [sid, String(index), String(to - from)];
      createRows(graph).write(args, from, to);
      return args;
    }

    test('a chunk sent twice is staged once; staging keys expire unless a create takes them', async () => {
      const store = await open();
      const id = randomUUID();
      const sid = 'resent';
      assert.deepEqual(await call(store, 'stage', id, stageArgs(sid, 0, 0, 5)), [CODE.OK, 5]);
      assert.deepEqual(await call(store, 'stage', id, stageArgs(sid, 0, 0, 5)), [CODE.OK, 5], 'the same chunk again');
      assert.equal(await raw.llen(`${store.keys.tag(id)}:stage:${sid}:order`), 5);
      assert.equal(await raw.exists(store.keys.wf(id)), 0, 'nothing of the workflow is visible');
      assert.equal(await store.snapshot(id), null);
      const staging = await stagingKeys(store);
      assert.ok(staging.length >= 4, staging.join(' '));
      for (const key of staging) {
        const ttl = await raw.pttl(key);
        assert.ok(ttl > 0 && ttl <= 600_000, `${key}: ${ttl}`);
      }
    });

    test('a create whose chunks did not all arrive fails and writes nothing', async () => {
      const store = await open();
      const id = randomUUID();
      const sid = 'short';
      await call(store, 'stage', id, stageArgs(sid, 0, 0, 5));
      // The create counts on two chunks of 5 ahead of its own 2 nodes; the second never came.
      const finalArgs = createArgs(graph, [`0 ${sid} 10`], createRows(graph), 10);
      await assert.rejects(call(store, 'create', id, finalArgs), /staged create incomplete: 5 of 10 nodes staged/);
      assert.equal(await raw.exists(store.keys.wf(id)), 0);
      assert.deepEqual(await raw.keys(`${store.keys.tag(id)}*`), [], 'no key of the workflow, staged or not');
    });

    test('chunks and a create sent by script make the same workflow as the store', async () => {
      const store = await open();
      const id = randomUUID();
      const sid = 'whole';
      await call(store, 'stage', id, stageArgs(sid, 0, 0, 5));
      await call(store, 'stage', id, stageArgs(sid, 1, 5, 10));
      assert.deepEqual(await call(store, 'create', id, createArgs(graph, [`0 ${sid} 10`], createRows(graph), 10)), [CODE.OK, '']);
      const reference = new Run(store);
      await reference.create(group(Array.from({ length: 12 }, (_, i) => sig('g', [i]))));
      assert.deepEqual(await stored(store, id), await stored(store, reference.id));
    });
  });
});
