/**
 * The batch scripts (create_many, claim_many, complete_many): creates, claims and completes made in the same
 * tick whose workflows share a cluster slot (one workflow, or slot-steered minted ids) go out as one call and
 * answer exactly as single calls would, also for a duplicate entry, a re-sent batch, an entry that settles its
 * workflow, stale claims mixed with valid ones, and a workflow whose entries raise an error.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, test, type TestContext } from 'node:test';
import { group, sig } from '../../src/canvas/builders.js';
import { storeLibrary } from '../../src/stores/redis/scripts.js';
import { Run } from '../contracts/store/harness.js';
import { requireRedis } from '../support/services.js';
import { BatchEnv, client, fcalls } from './redis-batch-support.js';

const redis = await requireRedis();
const env = new BatchEnv();
after(() => env.stop());
const open = (t: TestContext): ReturnType<BatchEnv['open']> => env.open(t);

describe('redis store batches', { skip: redis.skip }, () => {
  test('claims and completes of one workflow in one tick: one call each, one settle, one publish', async (t) => {
    const { store, url } = await open(t);
    const run = new Run(store);
    await run.create(group(sig('a'), sig('b'), sig('c')));
    const events: string[] = [];
    await store.subscribe((e) => events.push(e.type));
    const seen = await fcalls(t, url, async () => {
      const claims = await Promise.all(['n0', 'n1', 'n2'].map((id) => run.claim(id)));
      const done = await Promise.all(claims.map((c, i) => run.complete(`n${i}`, c.token, i)));
      assert.deepEqual(done.map((d) => d.status), ['ok', 'ok', 'ok']);
      assert.deepEqual(done.map((d) => d.settled), [undefined, undefined, 'succeeded']);
    });
    assert.equal(seen.get('claim_many'), 1);
    assert.equal(seen.get('complete_many'), 1);
    assert.equal(seen.get('claim') ?? 0, 0);
    assert.deepEqual((await store.outcome(run.id))?.result, [0, 1, 2]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(events.filter((t) => t === 'settled').length, 1);
  });

  test('a duplicate entry answers already, as a repeated single call does', async (t) => {
    const { store } = await open(t);
    const run = new Run(store);
    await run.create(group(sig('a'), sig('b')));
    const token = randomUUID();
    const [c1, c2] = await Promise.all([run.tryClaim('n0', { token }), run.tryClaim('n0', { token })]);
    assert.equal(c1.status, 'claimed');
    assert.equal(c2.status, 'claimed');
    assert.deepEqual([c1.status === 'claimed' && c1.already, c2.status === 'claimed' && c2.already], [false, true]);
    const other = await run.claim('n1');
    const [d1, d2, d3] = await Promise.all([run.complete('n0', token, 'x'), run.complete('n0', token, 'x'), run.complete('n1', other.token, 'y')]);
    assert.deepEqual([d1.status, d2.status, d3.status], ['ok', 'already', 'ok']);
    assert.equal(d3.settled, 'succeeded');
    assert.equal(d2.settled, undefined);
    const history = await store.history(run.id);
    assert.equal(history.filter((h) => h.node === 'n0' && h.to === 'succeeded').length, 1);
  });

  test('a re-sent batch (run twice) answers already for every entry and changes nothing', async (t) => {
    const { store, url } = await open(t);
    const run = new Run(store);
    await run.create(group(sig('a'), sig('b')));
    const lib = storeLibrary();
    const redis = client(t, url);
    const keys = [store.keys.wf(run.id)];
    const shared = ['1', '60000', store.keys.events];
    const [ta, tb] = [randomUUID(), randomUUID()];
    const claimArgs = [...shared, run.id, '10', 'n0', '1', 'a', ta, '60000', 'n1', '1', 'b', tb, '60000'];
    const fcall = (fn: string, args: string[]) => redis.call('FCALL', lib.functionName(fn as 'claim'), keys.length, ...keys, ...args) as Promise<unknown[][]>;
    const first = await fcall('claim_many', claimArgs);
    const again = await fcall('claim_many', claimArgs);
    assert.deepEqual(first.map((r) => [r[0], r[1]]), [[6, 0], [6, 0]]);
    assert.deepEqual(again.map((r) => [r[0], r[1]]), [[6, 1], [6, 1]]);
    const completeArgs = [...shared, run.id, '14', 'n0', ta, '"A"', '0', '', '', '', 'n1', tb, '"B"', '0', '', '', ''];
    const done = await fcall('complete_many', completeArgs);
    assert.deepEqual(done.map((r) => [r[0], r[1]]), [[0, ''], [0, 'succeeded']]);
    const applied = (await store.history(run.id)).length;
    const redone = await fcall('complete_many', completeArgs);
    assert.deepEqual(redone.map((r) => [r[0], r[1]]), [[1, ''], [1, '']]);
    assert.deepEqual((await store.outcome(run.id))?.result, ['A', 'B']);
    assert.equal((await store.history(run.id)).length, applied);
  });

  test('stale and valid claims in one batch: each answers as alone', async (t) => {
    const { store } = await open(t);
    const run = new Run(store);
    await run.create(group(sig('a'), sig('b'), sig('c')));
    const held = await run.claim('n0');
    const [stale, wrongAttempt, forged, ok, orphan] = await Promise.all([
      run.tryClaim('n0'), run.tryClaim('n1', { attempt: 2 }), run.tryClaim('n2', { task: 'other' }), run.tryClaim('n2'), run.tryClaim('zz'),
    ]);
    assert.deepEqual([stale.status, wrongAttempt.status, forged.status, ok.status, orphan.status], ['stale', 'stale', 'forged', 'claimed', 'orphan']);
    const [c1, c2] = await Promise.all([run.complete('n0', 'not-the-token', 1), run.complete('n0', held.token, 1)]);
    assert.deepEqual([c1.status, c2.status], ['stale', 'ok']);
    assert.equal((await run.node('n1')).state, 'queued');
  });
  test('every request of a batch settles when its call fails, is retried, or its store closes', async (t) => {
    const { store, url } = await open(t);
    const redis = client(t, url);
    const lost = new Run(store); // the library lost: reloaded, the batch retried once
    await lost.create(group(sig('a'), sig('b')));
    await redis.call('FUNCTION', 'FLUSH');
    const claims = await Promise.all([lost.tryClaim('n0'), lost.tryClaim('n1')]);
    assert.deepEqual(claims.map((c) => c.status), ['claimed', 'claimed']);
    const broken = new Run(store); // the call fails (WRONGTYPE): each request rejects
    await broken.create(group(sig('a'), sig('b')));
    const wfKey = store.keys.wf(broken.id);
    await redis.del(wfKey);
    await redis.set(wfKey, 'x');
    const failed = await Promise.allSettled([broken.tryClaim('n0'), broken.tryClaim('n1')]);
    assert.deepEqual(failed.map((r) => r.status), ['rejected', 'rejected']);
    const closing = new Run(store); // the store closes before the tick's batch leaves: each request rejects
    await closing.create(group(sig('a'), sig('b')));
    const pending = Promise.allSettled([closing.tryClaim('n0'), closing.tryClaim('n1')]);
    await store.close();
    assert.deepEqual((await pending).map((r) => r.status), ['rejected', 'rejected']);
  });
});
