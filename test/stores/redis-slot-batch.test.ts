/**
 * Batches across workflows: creates, claims and completes of workflows whose ids were minted in the same tick
 * (one cluster slot, mint.ts) go out as one create_many / claim_many / complete_many call, and each caller gets
 * its own entry's reply: created, exists, claimed, already, stale, orphan, ok, settled, or its own error, while
 * the other workflows of the batch are unaffected. A cross-workflow batch sent twice answers as re-sent single
 * calls do.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, test, type TestContext } from 'node:test';
import { chain, sig } from '../../src/canvas/builders.js';
import { CODE } from '../../src/stores/redis/codes.js';
import { RedisStore } from '../../src/stores/redis/redis-store.js';
import { Scripts, storeLibrary } from '../../src/stores/redis/scripts.js';
import { Sweeper } from '../../src/stores/redis/sweeper.js';
import { workflowSlot } from '../../src/stores/redis/slot.js';
import { Run, storedGraph } from '../contracts/store/harness.js';
import { requireRedis } from '../support/services.js';
import { BatchEnv, client, fcalls } from './redis-batch-support.js';

const redis = await requireRedis();
const env = new BatchEnv();
after(() => env.stop());
const open = (t: TestContext): ReturnType<BatchEnv['open']> => env.open(t);

/** `count` runs whose ids were minted in one tick (one slot). */
function minted(store: RedisStore, count: number): Run[] {
  return Array.from({ length: count }, () => new Run(store, store.mintWorkflowId()));
}

describe('redis store: batches across the workflows of one slot', { skip: redis.skip }, () => {
  test('one call per script for many workflows; each caller gets its own reply', async (t) => {
    const { store, url } = await open(t);
    const runs = minted(store, 5);
    assert.equal(new Set(runs.map((r) => workflowSlot(store.keys.prefix, r.id))).size, 1);
    const events: string[] = [];
    await store.subscribe((e) => events.push(`${e.type} ${e.workflowId}`));
    const seen = await fcalls(t, url, async () => {
      // Five creates and a repeated id (EXISTS) in one tick.
      const created = await Promise.all([...runs.map((r) => r.create(sig('one', [1]))), runs[0]!.create(sig('one', [1]))]);
      assert.deepEqual(created.map((c) => c.created), [true, true, true, true, true, false]);
      const claims = await Promise.all(runs.map((r) => r.claim('n0')));
      const done = await Promise.all(runs.map((r, i) => r.complete('n0', claims[i]!.token, i)));
      assert.deepEqual(done.map((d) => [d.status, d.settled]), runs.map(() => ['ok', 'succeeded']));
    });
    assert.deepEqual([seen.get('create_many'), seen.get('claim_many'), seen.get('complete_many')], [1, 1, 1]);
    assert.equal((seen.get('create') ?? 0) + (seen.get('claim') ?? 0) + (seen.get('complete') ?? 0), 0);
    for (const [i, r] of runs.entries()) assert.deepEqual((await store.outcome(r.id))?.result, i);
    const settled = await waitFor(() => events.filter((e) => e.startsWith('settled')), (s) => s.length >= runs.length);
    assert.deepEqual([...settled].sort(), runs.map((r) => `settled ${r.id}`).sort());
  });

  test('mixed outcomes in one batch: claimed, already, stale, orphan, forged; ok, already, stale, orphan, settled', async (t) => {
    const { store, url } = await open(t);
    const [a, b, c, d, ghost] = minted(store, 5) as [Run, Run, Run, Run, Run]; // ghost: never created
    await Promise.all([a.create(chain(sig('a'), sig('b'))), b.create(sig('b')), c.create(sig('c')), d.create(sig('d'))]);
    const held = await c.claim('n0');
    const token = randomUUID();
    let dToken = '';
    const seen = await fcalls(t, url, async () => {
      const claims = await Promise.all([
        a.tryClaim('n0', { token }), a.tryClaim('n0', { token }), b.tryClaim('n0', { attempt: 2 }), c.tryClaim('n0'),
        d.tryClaim('n0', { task: 'other' }), d.tryClaim('n0'), ghost.tryClaim('n0'),
      ]);
      assert.deepEqual(claims.map((r) => r.status), ['claimed', 'claimed', 'stale', 'stale', 'forged', 'claimed', 'orphan']);
      assert.deepEqual(claims.slice(0, 2).map((r) => r.status === 'claimed' && r.already), [false, true]);
      dToken = claims[5]!.token;
    });
    assert.equal(seen.get('claim_many'), 1);
    const done = await Promise.all([
      a.complete('n0', token, 'A'), a.complete('n0', token, 'A'), b.complete('n0', 'no-claim', 1), c.complete('n0', held.token, 'C'),
      d.complete('n0', dToken, 'D'), store.complete({ workflowId: ghost.id, nodeId: 'n0', token, result: '1', ignoreResult: false }),
    ]);
    assert.deepEqual(done.map((r) => r.status), ['ok', 'already', 'stale', 'ok', 'ok', 'orphan']);
    assert.deepEqual(done.map((r) => r.settled), [undefined, undefined, undefined, 'succeeded', 'succeeded', undefined]);
    assert.deepEqual(done[0]!.ready.map((r) => [r.workflowId, r.nodeId]), [[a.id, 'n1']]);
    assert.deepEqual(done[1]!.ready, []);
    assert.equal((await a.node('n1')).state, 'queued');
    assert.equal((await b.node('n0')).state, 'queued');
  });

  test('a workflow that raises an error fails its own callers only', async (t) => {
    const { store, url } = await open(t);
    const [good, broken] = minted(store, 2) as [Run, Run];
    await Promise.all([good.create(sig('g')), broken.create(sig('b'))]);
    const plain = client(t, url);
    const wf = store.keys.wf(broken.id);
    await plain.del(wf);
    await plain.set(wf, 'not a hash'); // WRONGTYPE in the broken workflow's script
    const claims = await Promise.allSettled([good.tryClaim('n0'), broken.tryClaim('n0'), good.tryClaim('n0')]);
    assert.deepEqual(claims.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
    assert.match(String((claims[1] as PromiseRejectedResult).reason), /WRONGTYPE/);
    assert.equal((await good.node('n0')).state, 'running');
  });

  // Without history, the compact entries take the batches' quick ways (compact.lua); with it, the general ones.
  for (const history of ['1', '0']) test(`a cross-workflow batch sent twice answers as re-sent single calls and changes nothing (history ${history})`, async (t) => {
    const { store, url } = await open(t);
    const [a, b] = minted(store, 2) as [Run, Run];
    const plain = client(t, url);
    const lib = storeLibrary();
    const keys = [store.keys.wf(a.id), store.keys.wf(b.id)];
    const shared = [history, '60000', store.keys.events];
    const fcall = async (fn: 'create_many' | 'claim_many' | 'complete_many', args: string[]): Promise<unknown[][]> =>
      (await plain.call('FCALL', lib.functionName(fn), keys.length, ...keys, ...shared, ...args)) as unknown[][];
    const graph = storedGraph(sig('t'));
    const createArgs = ['1', ...(await import('../../src/stores/redis/encode.js')).createArgs(graph)]; // fresh ids
    const creates = [a.id, String(createArgs.length), ...createArgs, b.id, String(createArgs.length), ...createArgs];
    assert.deepEqual((await fcall('create_many', creates)).map((r) => r[0]), [CODE.OK, CODE.OK]);
    assert.deepEqual((await fcall('create_many', creates)).map((r) => r[0]), [CODE.EXISTS, CODE.EXISTS]);
    const [ta, tb] = [randomUUID(), randomUUID()];
    const claims = [a.id, '5', 'n0', '1', 't', ta, '60000', b.id, '5', 'n0', '1', 't', tb, '60000'];
    assert.deepEqual((await fcall('claim_many', claims)).map((r) => [r[0], r[1]]), [[CODE.CLAIMED, 0], [CODE.CLAIMED, 0]]);
    assert.deepEqual((await fcall('claim_many', claims)).map((r) => [r[0], r[1]]), [[CODE.CLAIMED, 1], [CODE.CLAIMED, 1]]);
    // A create re-sent after the claims (ioredis re-sends in-flight commands after a reconnect) changes nothing.
    assert.deepEqual((await fcall('create_many', creates)).map((r) => r[0]), [CODE.EXISTS, CODE.EXISTS]);
    assert.deepEqual([(await store.snapshot(a.id))?.nodes[0]?.state, (await store.snapshot(b.id))?.nodes[0]?.state], ['running', 'running']);
    const completes = [a.id, '7', 'n0', ta, '"A"', '0', '', '', '', b.id, '7', 'n0', tb, '"B"', '0', '', '', ''];
    assert.deepEqual((await fcall('complete_many', completes)).map((r) => [r[0], r[1]]), [[CODE.OK, 'succeeded'], [CODE.OK, 'succeeded']]);
    const applied = [(await store.history(a.id)).length, (await store.history(b.id)).length];
    assert.deepEqual((await fcall('complete_many', completes)).map((r) => [r[0], r[1]]), [[CODE.ALREADY, ''], [CODE.ALREADY, '']]);
    assert.deepEqual([(await store.history(a.id)).length, (await store.history(b.id)).length], applied);
    assert.deepEqual([(await store.outcome(a.id))?.result, (await store.outcome(b.id))?.result], ['A', 'B']);
  });

  test('sweep index: the additions and the removals of one tick go as one command each', async (t) => {
    const { store, url } = await open(t);
    const plain = client(t, url);
    const scripts = new Scripts(plain);
    await scripts.load();
    const sweeper = new Sweeper(plain, store.keys, scripts, ['0', '60000', store.keys.events]);
    const ids = Array.from({ length: 1_500 }, (_, i) => `w${i}`);
    const added = await fcalls(t, url, async () => {
      await Promise.all(ids.map((id) => sweeper.index(id, 0)));
    });
    assert.equal(added.get('cmd:zadd'), 2, '1,500 additions in two commands of at most 1,000');
    assert.equal(await plain.zcard(store.keys.active), ids.length);
    await sweeper.index('w0', 1); // replayed meanwhile: kept by an unindex of run 0
    const removed = await fcalls(t, url, async () => {
      await Promise.all(ids.slice(0, 900).map((id) => sweeper.unindex(id, 0)));
    });
    assert.equal(removed.get('unindex'), 1);
    assert.deepEqual(await Promise.all(['w0', 'w899', 'w900'].map((id) => plain.zscore(store.keys.active, id))), ['1', null, '0']);
    assert.equal(await plain.zcard(store.keys.active), ids.length - 899);
  });

  test('create: a fresh minted id skips the DEL of leftover keys; any other id clears them', async (t) => {
    const { store, url } = await open(t);
    const plain = client(t, url);
    const dels = async (): Promise<number> => Number(/cmdstat_del:calls=(\d+)/.exec(await plain.info('commandstats'))?.[1] ?? 0);
    const reused = new Run(store, 'expired-one'); // keys of an expired workflow of this id are left over
    await plain.rpush(store.keys.key(reused.id, 'order'), 'old');
    await plain.hset(store.keys.key(reused.id, 'res'), 'n0', '"old"');
    const before = await dels();
    await reused.create(sig('r'));
    assert.equal(await dels(), before + 1);
    // One node: the compact layout (lua/compact.lua), in the wf hash alone; the leftovers are gone.
    assert.deepEqual(await plain.lrange(store.keys.key(reused.id, 'order'), 0, -1), []);
    assert.equal(await plain.hget(store.keys.key(reused.id, 'res'), 'n0'), null);
    assert.deepEqual((await reused.snapshot()).nodes.map((n) => n.id), ['n0']);
    const fresh = minted(store, 3);
    await Promise.all(fresh.map((r) => r.create(sig('f'))));
    assert.equal(await dels(), before + 1, 'no DEL for fresh ids');
    const again = new Run(store, fresh[0]!.id); // asked again: not fresh any more (EXISTS here, DEL elsewhere)
    assert.equal((await again.create(sig('f'))).created, false);
  });

  test('a batch is capped: a large create goes alone, many creates split into calls of one slot', async (t) => {
    const { store, url } = await open(t);
    const runs = minted(store, 300); // two mint groups: 256 + 44, two slots
    const big = new Run(store, store.mintWorkflowId());
    const seen = await fcalls(t, url, async () => {
      const wide = Array.from({ length: 2_000 }, (_, i) => sig('w', [i]));
      const created = await Promise.all([...runs.map((r) => r.create(sig('one'))), big.create(chain(sig('first'), ...wide))]);
      assert.ok(created.every((c) => c.created));
    });
    assert.equal(seen.get('create'), 1, 'the 2,001-node create (over the argument cap) goes alone');
    assert.ok((seen.get('create_many') ?? 0) >= 2, 'at least one batch per slot');
    assert.equal((await big.snapshot()).nodes.length, 2_001);
  });
});

/** Re-reads `read` on each settle notification until `done` holds (events, not timers). */
async function waitFor<T>(read: () => T, done: (value: T) => boolean): Promise<T> {
  for (;;) {
    const value = read();
    if (done(value)) return value;
    await new Promise((resolve) => setImmediate(resolve));
  }
}
