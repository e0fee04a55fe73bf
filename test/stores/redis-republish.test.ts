/**
 * The Redis sweep's republish backoff (src/runtime/step/sweep.ts republishWait), which the store contract checks
 * exactly only on a store with a clock the test moves. Redis keeps its own clock (TIME), so this test moves the
 * node instead: it rewrites when the node was queued (`q`) and its score in the `ready` index, then sweeps.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { chain, sig } from '../../src/canvas/builders.js';
import { decodeNodeRecord } from '../../src/stores/redis/node-record.js';
import { RedisStore } from '../../src/stores/redis/redis-store.js';
import { Run } from '../contracts/store/harness.js';
import { RedisServer } from '../support/redis-server.js';
import { requireRedis } from '../support/services.js';

const redis = await requireRedis();
let server: RedisServer | undefined;
const closers: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const close of closers) await close();
  await server?.stop();
});

interface StoredNode { q?: number; nb?: number; sw?: number; bo?: number; s: string }

describe('redis sweep: republishing backs off', { skip: redis.skip }, () => {
  test('each republish of a node nobody claims waits twice as long; a claim starts over', async () => {
    server = await RedisServer.start();
    const store = new RedisStore({ url: server.url, prefix: `rp${randomUUID().slice(0, 8)}` });
    await store.connect();
    const raw = new Redis(server.url);
    closers.push(() => store.close(), async () => raw.disconnect());
    const run = new Run(store);
    await run.create(chain(sig('a'), sig('b')));
    const nodeKey = store.keys.key(run.id, 'node');
    const readyKey = store.keys.key(run.id, 'ready');
    // Stored as MessagePack once a script wrote it back; written back here as JSON, which the scripts read too.
    const read = async (): Promise<StoredNode> => {
      const stored = await raw.hgetBuffer(nodeKey, 'n0');
      assert.ok(stored, 'node n0 is stored');
      return decodeNodeRecord(stored) as unknown as StoredNode;
    };
    const storeNow = async (): Promise<number> => {
      const [seconds, micros] = await raw.time();
      return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    };
    /** Pretends the node was queued (or last republished) `ago` ms ago, keeping its backoff. */
    const queuedAgo = async (ago: number): Promise<void> => {
      const node = await read();
      node.q = (await storeNow()) - ago;
      node.nb = Math.min(node.nb ?? 0, node.q); // due since then too (it had no countdown)
      await raw.hset(nodeKey, 'n0', JSON.stringify(node));
      await raw.zadd(readyKey, node.q + (node.bo ?? 0), 'n0');
    };
    const wait = 6_000; // republishAfterMs: far longer than this test can take between two steps

    await queuedAgo(wait - 1_000);
    assert.deepEqual((await run.sweep(wait)).ready, [], 'not before republishAfterMs');
    await queuedAgo(wait + 1_000);
    assert.deepEqual((await run.sweep(wait)).ready.map((r) => r.nodeId), ['n0'], 'first republish after republishAfterMs');
    let node = await read();
    assert.deepEqual([node.sw, node.bo], [1, wait]);
    assert.equal(Number(await raw.zscore(readyKey, 'n0')), (node.q ?? 0) + wait, 'the ready index scores the next due time');

    await queuedAgo(2 * wait - 1_000);
    assert.deepEqual((await run.sweep(wait)).ready, [], 'the second republish waits twice as long');
    await queuedAgo(2 * wait + 1_000);
    assert.deepEqual((await run.sweep(wait)).ready.map((r) => r.nodeId), ['n0']);
    assert.deepEqual([(await read()).sw, (await read()).bo], [2, 3 * wait]);

    for (let republished = 3; republished <= 6; republished++) await queuedAgo(16 * wait + 1_000), await run.sweep(wait);
    node = await read();
    assert.deepEqual([node.sw, node.bo], [6, 15 * wait], 'the wait stops doubling at 16 x republishAfterMs');

    await run.claim('n0');
    node = await read();
    assert.equal(node.s, 'running');
    assert.deepEqual([node.sw, node.bo], [undefined, undefined], 'a claim starts the backoff over');
  });

  test('a node sent back from a lapsed lease is republished after redeliveredRepublishAfterMs, not republishAfterMs', { timeout: 30_000 }, async () => {
    server ??= await RedisServer.start();
    const store = new RedisStore({ url: server.url, prefix: `rr${randomUUID().slice(0, 8)}` });
    await store.connect();
    closers.push(() => store.close());
    const run = new Run(store);
    await run.create(chain(sig('a'), sig('b')));
    const after = 60_000;
    const sooner = 1_500;
    await run.claim('n0', { leaseMs: 1 });
    let swept = await run.sweep(after, sooner);
    for (let tries = 0; swept.redelivered === 0; tries++) {
      assert.ok(tries < 500, 'the lapsed lease was never sent back');
      await new Promise((resolve) => setTimeout(resolve, 2));
      swept = await run.sweep(after, sooner);
    }
    // Its message is listed (and, in this test, never published: the sweeper died before it could).
    const sentBackAt = Date.now();
    assert.deepEqual(swept.ready.map((r) => r.nodeId), ['n0']);
    assert.deepEqual((await run.sweep(after, sooner)).ready, [], 'not at once');
    // Polled, not slept: it comes once `sooner` has passed, long before republishAfterMs.
    let republished: string[] = [];
    while (republished.length === 0) {
      assert.ok(Date.now() - sentBackAt < 15_000, 'not republished within 15 s');
      await new Promise((resolve) => setTimeout(resolve, 50));
      republished = (await run.sweep(after, sooner)).ready.map((r) => r.nodeId);
    }
    assert.deepEqual(republished, ['n0']);
    assert.ok(Date.now() - sentBackAt >= sooner - 5, `republished ${Date.now() - sentBackAt} ms after it was sent back, before ${sooner} ms`);
    assert.deepEqual((await run.sweep(after, sooner)).ready, [], 'then it backs off from republishAfterMs');
  });
});
