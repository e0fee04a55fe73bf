/**
 * Contract: the four commits (complete, fail, retry, replace) and their guards. A commit needs the claim
 * token; one re-sent with the same token answers `already` and changes nothing (RELIABILITY §1 rules), so
 * every commit run twice leaves the same state as once and never moves a fan-in counter twice (inv 3).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { chain, chord, group, sig } from '../../../src/canvas/builders.js';
import type { CommitResult } from '../../../src/stores/store.js';
import { boom, fragmentGraph, open, readyIds, Run, type Claim, type StoreFactory } from './harness.js';

type CommitKind = 'complete' | 'fail' | 'retry' | 'replace' | 'replace-empty';
const KINDS: CommitKind[] = ['complete', 'fail', 'retry', 'replace', 'replace-empty'];

function commit(run: Run, kind: CommitKind, nodeId: string, claim: Claim, token = claim.token): Promise<CommitResult> {
  switch (kind) {
    case 'complete': return run.complete(nodeId, token, { done: nodeId });
    case 'fail': return run.fail(nodeId, token, boom('for good'));
    case 'retry': return run.retry(nodeId, token, 0);
    case 'replace': return run.replace(nodeId, token, fragmentGraph(chain(sig('x'), sig('y')), nodeId, claim.node));
    case 'replace-empty': return run.replace(nodeId, token, fragmentGraph(group(), nodeId, claim.node));
  }
}

export function commitsContract(make: StoreFactory): void {
  describe('commits', () => {
    for (const kind of KINDS) {
      test(`${kind}: another token is stale and changes nothing`, async (t) => {
        const { store } = await open(make, t, { history: true });
        const run = new Run(store);
        await run.create(chain(sig('a'), sig('b')));
        const c = await run.claim('n0');
        const before = await run.snapshot();
        const history = await store.history(run.id);
        const res = await commit(run, kind, 'n0', c, 'not-the-token');
        assert.deepEqual(res, { status: 'stale', ready: [] });
        assert.deepEqual(await run.snapshot(), before);
        assert.deepEqual(await store.history(run.id), history);
      });

      test(`${kind}: re-sent with the same token answers already and leaves the state of one commit`, async (t) => {
        const { store } = await open(make, t, { history: true });
        const run = new Run(store);
        await run.create(chain(sig('a'), sig('b')));
        const c = await run.claim('n0');
        const first = await commit(run, kind, 'n0', c);
        assert.equal(first.status, 'ok');
        const once = { snapshot: await run.snapshot(), history: await store.history(run.id), outcome: await store.outcome(run.id) };
        const second = await commit(run, kind, 'n0', c);
        assert.deepEqual(second, { status: 'already', ready: [] });
        const third = await commit(run, kind, 'n0', c);
        assert.deepEqual(third, { status: 'already', ready: [] });
        assert.deepEqual(await run.snapshot(), once.snapshot);
        assert.deepEqual(await store.history(run.id), once.history);
        assert.deepEqual(await store.outcome(run.id), once.outcome);
      });

      test(`${kind}: unknown workflow or node is orphan; a node never claimed is stale`, async (t) => {
        const { store } = await open(make, t);
        const run = new Run(store);
        await run.create(group(sig('a'), sig('b')));
        const c = await run.claim('n0');
        const ghost = new Run(store, 'missing-workflow');
        assert.equal((await commit(ghost, kind, 'n0', c)).status, 'orphan');
        assert.equal((await commit(run, kind, 'n7', c)).status, 'orphan');
        assert.equal((await commit(run, kind, 'n1', c)).status, 'stale');
        assert.deepEqual(await run.states(), { n0: 'running', n1: 'queued' });
      });
    }

    test('a commit after another commit of the same claim is stale: the first outcome stands', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(chain(sig('a'), sig('b')));
      const c = await run.claim('n0');
      await run.complete('n0', c.token, 'A');
      for (const kind of ['fail', 'retry', 'replace'] as const) assert.equal((await commit(run, kind, 'n0', c)).status, 'stale', kind);
      const n = await run.node('n0');
      assert.equal(n.state, 'succeeded');
      assert.equal(n.result, 'A');
      assert.equal((await run.node('n1')).state, 'queued');
    });

    test('complete stores the result, marks dependents ready in the same step and reports them', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(chain(sig('a'), group(sig('b'), sig('c').set({ countdownMs: 250, queue: 'q2', priority: 7 }))));
      const res = await run.run('n0', { r: [1, 'two'] });
      assert.deepEqual(res.ready, [
        { workflowId: run.id, nodeId: 'n1', task: 'b', attempt: 1, queue: 'default', delayMs: 0 },
        { workflowId: run.id, nodeId: 'n2', task: 'c', attempt: 1, queue: 'q2', priority: 7, delayMs: 250 },
      ]);
      assert.equal(res.settled, undefined);
      const a = await run.node('n0');
      assert.deepEqual(a.result, { r: [1, 'two'] });
      assert.equal(typeof a.finishedAt, 'number');
      assert.deepEqual(await run.states(), { n0: 'succeeded', n1: 'queued', n2: 'queued' });
    });

    test('retry: a new attempt is queued with the delay; the old attempt is stale; retries count', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(sig('a', [1]));
      const c1 = await run.claim('n0');
      const res = await run.retry('n0', c1.token, 0, boom('flaky'));
      assert.deepEqual(res, { status: 'ok', ready: [{ workflowId: run.id, nodeId: 'n0', task: 'a', attempt: 2, queue: 'default', delayMs: 0 }] });
      const n = await run.node('n0');
      assert.equal(n.state, 'retrying');
      assert.equal(n.error?.message, 'flaky');
      assert.equal((await run.tryClaim('n0', { attempt: 1 })).status, 'stale');
      const c2 = await run.claim('n0');
      assert.equal(c2.node.attempt, 2);
      assert.equal(c2.node.retries, 1);
      assert.deepEqual(c2.node.args, [1]);
      assert.equal((await run.complete('n0', c1.token, 'old')).status, 'stale');
      await run.complete('n0', c2.token, 'new');
      const done = await run.node('n0');
      assert.equal(done.state, 'succeeded');
      assert.equal(done.attempts, 2);
      assert.deepEqual((await store.outcome(run.id))?.result, 'new');
    });

    test('retry with a delay: the new attempt is early until due', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(sig('a'));
      const c = await run.claim('n0');
      const res = await run.retry('n0', c.token, 60_000);
      assert.equal(res.ready[0]?.delayMs, 60_000);
      const early = await run.tryClaim('n0');
      assert.equal(early.status, 'early');
      if (early.status === 'early') assert.ok(early.delayMs > 0 && early.delayMs <= 60_000);
      assert.equal((await run.node('n0')).state, 'retrying');
    });

    test('fan-in: header completions each re-sent never make the body ready early or twice', async (t) => {
      const { store } = await open(make, t, { history: true });
      const run = new Run(store);
      await run.create(chord([sig('h', [0]), sig('h', [1]), sig('h', [2])], sig('body')));
      const claims = [await run.claim('n0'), await run.claim('n1'), await run.claim('n2')];
      for (const i of [2, 0]) {
        assert.deepEqual(readyIds(await run.complete(`n${i}`, claims[i]!.token, i)), []);
        assert.deepEqual(await run.complete(`n${i}`, claims[i]!.token, i), { status: 'already', ready: [] });
        assert.equal((await run.node('n3')).state, 'pending');
      }
      assert.deepEqual(readyIds(await run.complete('n1', claims[1]!.token, 1)), ['n3']);
      assert.deepEqual(await run.complete('n1', claims[1]!.token, 1), { status: 'already', ready: [] });
      assert.deepEqual(await run.complete('n0', claims[0]!.token, 0), { status: 'already', ready: [] });
      const body = (await store.history(run.id)).filter((h) => h.node === 'n3');
      assert.deepEqual(body.map((h) => `${h.from}>${h.to}`), ['pending>queued']);
      assert.deepEqual((await run.claim('n3')).node.args, [[0, 1, 2]]);
    });
  });
}
