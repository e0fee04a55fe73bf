/**
 * The Redis sweep's republish backoff (src/runtime/step/sweep.ts republishWait), which the store contract checks
 * exactly only on a store with a clock the test moves. Redis keeps its own clock (TIME), so this test moves the
 * node instead: it rewrites when the node was queued (`q`) and its score in the `ready` index, then sweeps.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { chain, sig } from '../../src/canvas/builders.js';
import { decodeNodeRecord } from '../../src/stores/redis/node-record.js';
import { Run } from '../contracts/store/harness.js';
import type { SweepResult } from '../../src/stores/store.js';
import { FileRedis } from '../support/file-redis.js';
import { requireRedis } from '../support/services.js';

const redis = await requireRedis();
const files = new FileRedis();

interface StoredNode { q?: number; nb?: number; sw?: number; bo?: number; s: string }

/** Sweeps (2 ms apart, 500 times at most) until one finds the lapsed lease of `run`'s node; that sweep's result. */
async function sweepUntilLapsed(run: Run, after: number, sooner: number): Promise<SweepResult> {
  for (let tries = 0; ; tries++) {
    const swept = await run.sweep(after, sooner);
    if (swept.redelivered + swept.lost > 0) return swept;
    assert.ok(tries < 500, 'the lapsed lease was never found');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Sweeps every 50 ms until one republishes something (15 s at most); its node ids and when (ms after `since`). */
async function nextRepublish(run: Run, after: number, sooner: number, since: number): Promise<{ ids: string[]; afterMs: number }> {
  for (;;) {
    assert.ok(Date.now() - since < 15_000, 'not republished within 15 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const ids = (await run.sweep(after, sooner)).ready.map((r) => r.nodeId);
    if (ids.length > 0) return { ids, afterMs: Date.now() - since };
  }
}

describe('redis sweep: republishing backs off', { skip: redis.skip }, () => {
  test('each republish of a node nobody claims waits twice as long; a claim starts over', async () => {
    const { store, raw } = await files.open('rp');
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
    const { store, raw } = await files.open('rr');
    const run = new Run(store);
    await run.create(chain(sig('a'), sig('b')));
    const after = 60_000;
    const sooner = 1_500;
    await run.claim('n0', { leaseMs: 1 });
    const swept = await sweepUntilLapsed(run, after, sooner);
    // Its message is listed (and, in this test, never published: the sweeper died before it could).
    const sentBackAt = Date.now();
    assert.deepEqual([swept.redelivered, swept.ready.map((r) => r.nodeId)], [1, ['n0']]);
    assert.deepEqual((await run.sweep(after, sooner)).ready, [], 'not at once');
    // Polled, not slept: it comes once `sooner` has passed, long before republishAfterMs.
    const republished = await nextRepublish(run, after, sooner, sentBackAt);
    assert.deepEqual(republished.ids, ['n0']);
    assert.ok(republished.afterMs >= sooner - 5, `republished ${republished.afterMs} ms after it was sent back, before ${sooner} ms`);
    assert.deepEqual((await run.sweep(after, sooner)).ready, [], 'then it waits twice as long');
    const stored = await raw.hgetBuffer(store.keys.key(run.id, 'node'), 'n0');
    assert.ok(stored);
    const node = decodeNodeRecord(stored) as unknown as StoredNode & { qk?: number };
    assert.deepEqual([node.s, node.sw, node.qk, node.bo], ['queued', 1, sooner, 2 * sooner - after], 'the next wait is 2 x redeliveredRepublishAfterMs');

    // Each later republish doubles the wait until it reaches republishAfterMs; from there the node backs off as any.
    // (Time is moved by rewriting when the node was queued, as in the test above.)
    const nodeKey = store.keys.key(run.id, 'node');
    const republishDue = async (): Promise<StoredNode & { qk?: number }> => {
      const current = decodeNodeRecord((await raw.hgetBuffer(nodeKey, 'n0'))!) as unknown as StoredNode & { qk?: number };
      const [seconds, micros] = await raw.time();
      current.q = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) - (current.bo ?? 0) - after - 1;
      current.nb = Math.min(current.nb ?? 0, current.q);
      await raw.hset(nodeKey, 'n0', JSON.stringify(current));
      await raw.zadd(store.keys.key(run.id, 'ready'), current.q + (current.bo ?? 0), 'n0');
      assert.deepEqual((await run.sweep(after, sooner)).ready.map((r) => r.nodeId), ['n0']);
      return decodeNodeRecord((await raw.hgetBuffer(nodeKey, 'n0'))!) as unknown as StoredNode & { qk?: number };
    };
    const waits: number[] = [];
    for (let i = 0; i < 7; i++) {
      const next = await republishDue();
      waits.push((next.bo ?? 0) + after);
    }
    assert.deepEqual(waits, [4 * sooner, 8 * sooner, 16 * sooner, 32 * sooner, after, 2 * after, 4 * after]);
  });

  test('an errback a lost node fired in a sweep is republished after redeliveredRepublishAfterMs too', { timeout: 30_000 }, async () => {
    const { store } = await files.open('re');
    const run = new Run(store);
    await run.create(sig('a').set({ maxRedeliveries: 0 }).onError(sig('eb')));
    await run.claim('n0', { leaseMs: 1 });
    const after = 60_000;
    const sooner = 1_000;
    const swept = await sweepUntilLapsed(run, after, sooner);
    const firedAt = Date.now();
    assert.deepEqual([swept.lost, swept.ready.map((r) => r.nodeId)], [1, ['e0']]);
    const republished = await nextRepublish(run, after, sooner, firedAt);
    assert.deepEqual(republished.ids, ['e0']);
    assert.ok(republished.afterMs >= sooner - 5, `republished ${republished.afterMs} ms after it was made ready`);
  });
});
