/**
 * Contract: replay. Refused while running or succeeded; re-runs failed, blocked and canceled nodes (or the
 * given ones) and everything downstream, keeps succeeded results, and moves attempts on so every message
 * and claim of the earlier run is stale.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { chain, group, sig } from '../../../src/canvas/builders.js';
import { boom, open, readyIds, Run, type StoreFactory } from './harness.js';

export function replayContract(make: StoreFactory): void {
  describe('replay', () => {
    test('refused while running or succeeded; missing for an unknown workflow', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(chain(sig('a'), sig('b')));
      assert.deepEqual(await run.replay(), { status: 'refused', state: 'running' });
      assert.deepEqual(await run.replay(['n0']), { status: 'refused', state: 'running' });
      await run.run('n0', 1);
      await run.run('n1', 2);
      const before = await run.snapshot();
      assert.deepEqual(await run.replay(), { status: 'refused', state: 'succeeded' });
      assert.deepEqual(await run.snapshot(), before);
      assert.deepEqual(await store.replay('missing-workflow'), { status: 'missing' });
    });

    test('re-runs failed and blocked nodes with new attempts; succeeded results are kept', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(chain(group(sig('a'), sig('b')), sig('c'), sig('d')));
      const a = await run.claim('n0');
      const oldMessage = run.message('n0');
      await run.fail('n0', a.token, boom('a broke'));
      await run.run('n1', 'B');
      assert.equal((await run.snapshot()).state, 'failed');
      const res = await run.replay();
      assert.equal(res.status, 'ok');
      if (res.status !== 'ok') return;
      assert.deepEqual(res.nodes, ['n0', 'n2', 'n3']);
      assert.deepEqual(res.ready, [{ workflowId: run.id, nodeId: 'n0', task: 'a', attempt: 2, queue: 'default', delayMs: 0 }]);
      const snap = await run.snapshot();
      assert.equal(snap.state, 'running');
      assert.equal(snap.settledAt, undefined);
      assert.deepEqual(snap.nodes.map((n) => [n.id, n.state, n.result, n.error]), [
        ['n0', 'queued', undefined, undefined], ['n1', 'succeeded', 'B', undefined], ['n2', 'pending', undefined, undefined], ['n3', 'pending', undefined, undefined],
      ]);
      assert.equal(snap.nodes[1]!.attempts, 1);
      assert.deepEqual(await store.outcome(run.id), { state: 'running', failures: [] });
      // the earlier run's message and claim are stale
      assert.equal((await run.tryClaim('n0', { attempt: oldMessage.attempt })).status, 'stale');
      assert.equal((await run.complete('n0', a.token, 'late')).status, 'stale');
      assert.equal((await run.fail('n0', a.token)).status, 'stale');
      const again = await run.claim('n0');
      assert.equal(again.node.attempt, 2);
      assert.equal(again.node.retries, 0);
      await run.complete('n0', again.token, 'A');
      const c = await run.claim('n2');
      assert.deepEqual(c.node.args, [['A', 'B']]);
      await run.complete('n2', c.token, 'C');
      const last = await run.run('n3', 'D');
      assert.equal(last.settled, 'succeeded');
      assert.deepEqual(await store.outcome(run.id), { state: 'succeeded', result: 'D', failures: [] });
    });

    test('errbacks can fire again in the replayed run', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(group(sig('a'), sig('b')).onError(sig('eb')));
      await run.runFail('n0', boom('first'));
      await run.run('e0', null);
      await run.run('n1', 'B');
      const res = await run.replay();
      assert.equal(res.status, 'ok');
      assert.deepEqual(readyIds(res.status === 'ok' ? res : { ready: [] }), ['n0']);
      const fired = await run.runFail('n0', boom('second'));
      assert.equal(fired.ready.length, 1);
      const eId = fired.ready[0]!.nodeId;
      assert.notEqual(eId, 'e0');
      const e = await run.claim(eId);
      assert.deepEqual(e.node.args, [{ workflowId: run.id, nodeId: 'n0', task: 'a', error: boom('second') }]);
      const done = await run.complete(eId, e.token, null);
      assert.equal(done.settled, 'failed');
      const errbacks = (await run.snapshot()).nodes.filter((n) => n.kind === 'errback');
      assert.deepEqual(errbacks.map((n) => [n.id, n.state]), [['e0', 'succeeded'], [eId, 'succeeded']]);
    });

    test('an explicit node list re-runs those nodes and everything downstream, nothing else', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(chain(sig('a'), group(sig('b'), sig('c')), sig('d')));
      await run.run('n0', 'A');
      await run.run('n1', 'B');
      await run.run('n2', 'C');
      await run.runFail('n3');
      const res = await run.replay(['n1']);
      assert.equal(res.status, 'ok');
      if (res.status !== 'ok') return;
      assert.deepEqual(res.nodes, ['n1', 'n3']);
      assert.deepEqual(readyIds(res), ['n1']);
      assert.deepEqual(await run.states(), { n0: 'succeeded', n1: 'queued', n2: 'succeeded', n3: 'pending' });
      const b = await run.claim('n1');
      assert.deepEqual(b.node.args, ['A']);
      await run.complete('n1', b.token, 'B2');
      const d = await run.claim('n3');
      assert.deepEqual(d.node.args, [['B2', 'C']]);
      assert.equal((await run.complete('n3', d.token, 'D')).settled, 'succeeded');
      assert.equal((await run.node('n2')).attempts, 1);
    });

    test('unknown node ids are reported and nothing changes', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(sig('a'));
      await run.runFail('n0');
      const before = await run.snapshot();
      assert.deepEqual(await run.replay(['n0', 'zz', 'n99']), { status: 'unknown_nodes', nodes: ['zz', 'n99'] });
      assert.deepEqual(await run.snapshot(), before);
    });

    test('a canceled workflow replays its canceled nodes; the fenced claim stays stale', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(chain(sig('a'), sig('b')));
      const a = await run.claim('n0');
      await store.cancel(run.id);
      const res = await run.replay();
      assert.equal(res.status, 'ok');
      assert.deepEqual(readyIds(res.status === 'ok' ? res : { ready: [] }), ['n0']);
      assert.equal(run.message('n0').attempt, 2);
      assert.equal((await run.complete('n0', a.token, 'old')).status, 'stale');
      assert.equal(await store.renew({ workflowId: run.id, nodeId: 'n0', token: a.token, leaseMs: 1000 }), 'lost');
      await run.run('n0', 'A');
      assert.equal((await run.run('n1', 'B')).settled, 'succeeded');
    });

    test('a replayed node whose dependency failed brings the dependency along, so the workflow can settle', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(chain(sig('a'), sig('b'), sig('c')));
      await run.runFail('n0');
      const res = await run.replay(['n1']);
      assert.equal(res.status, 'ok');
      if (res.status !== 'ok') return;
      assert.deepEqual(res.nodes, ['n0', 'n1', 'n2']);
      assert.deepEqual(readyIds(res), ['n0']);
      await run.run('n0', 'A');
      await run.run('n1', 'B');
      assert.equal((await run.run('n2', 'C')).settled, 'succeeded');
    });

    test('a dependency whose ignored result was dropped at settle runs again to feed a replayed node', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(chain(sig('a'), sig('b')));
      const a = await run.claim('n0');
      await run.complete('n0', a.token, 'A', true);
      await run.runFail('n1');
      const res = await run.replay();
      assert.equal(res.status, 'ok');
      if (res.status !== 'ok') return;
      assert.deepEqual(res.nodes, ['n0', 'n1']);
      await run.run('n0', 'A2');
      assert.deepEqual((await run.claim('n1')).node.args, ['A2']);
    });
  });
}
