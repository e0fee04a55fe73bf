/**
 * Contract: replace (`ctx.replace`). The fragment's nodes are appended; the node shows running until the
 * fragment is done, then takes its result; a fragment failure fails the node and blocks downstream.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { chain, chord, group, sig } from '../../../src/canvas/builders.js';
import { boom, fragmentGraph, open, readyIds, Run, type StoreFactory } from './harness.js';

export function replaceContract(make: StoreFactory): void {
  describe('replace', () => {
    test('fragment nodes come after; the node is running until the fragment is done, then has its result', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(chain(sig('a'), sig('r'), sig('c')));
      await run.run('n0', 'A');
      const r = await run.claim('n1');
      assert.deepEqual(r.node.args, ['A']);
      const res = await run.replace('n1', r.token, fragmentGraph(chain(group(sig('x', [1]), sig('x', [2])), sig('y')), 'n1', r.node));
      assert.equal(res.status, 'ok');
      assert.deepEqual(readyIds(res), ['n1.0', 'n1.1']);
      const snap = await run.snapshot();
      assert.deepEqual(snap.nodes.map((n) => [n.id, n.state, n.deps, n.replacing]), [
        ['n0', 'succeeded', [], undefined], ['n1', 'running', ['n0'], undefined], ['n2', 'pending', ['n1'], undefined],
        ['n1.0', 'queued', [], 'n1'], ['n1.1', 'queued', [], 'n1'], ['n1.2', 'pending', ['n1.0', 'n1.1'], 'n1'],
      ]);
      assert.equal(await store.renew({ workflowId: run.id, nodeId: 'n1', token: r.token, leaseMs: 1000 }), 'lost');
      await run.run('n1.1', 'X2');
      await run.run('n1.0', 'X1');
      assert.equal((await run.node('n1')).state, 'running');
      const y = await run.claim('n1.2');
      assert.deepEqual(y.node.args, [['X1', 'X2']]);
      const done = await run.complete('n1.2', y.token, { y: true });
      assert.deepEqual(readyIds(done), ['n2']);
      const node = await run.node('n1');
      assert.equal(node.state, 'succeeded');
      assert.deepEqual(node.result, { y: true });
      const c = await run.claim('n2');
      assert.deepEqual(c.node.args, [{ y: true }]);
      assert.equal((await run.complete('n2', c.token, 'C')).settled, 'succeeded');
      assert.deepEqual((await store.outcome(run.id))?.result, 'C');
    });

    test('a group fragment gives its array; the replaced node as the workflow result', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(sig('fan'));
      const r = await run.claim('n0');
      await run.replace('n0', r.token, fragmentGraph(group(sig('x', [0]), sig('x', [1]), sig('x', [2])), 'n0', r.node));
      await run.run('n0.2', 2);
      await run.run('n0.0', 0);
      const last = await run.run('n0.1', 1);
      assert.equal(last.settled, 'succeeded');
      assert.deepEqual(await store.outcome(run.id), { state: 'succeeded', result: [0, 1, 2], failures: [] });
    });

    test('an empty fragment resolves the node at once and readies what follows in the same step', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(chain(sig('r'), sig('c')));
      const r = await run.claim('n0');
      const res = await run.replace('n0', r.token, fragmentGraph(group(), 'n0', r.node));
      assert.equal(res.status, 'ok');
      assert.deepEqual(readyIds(res), ['n1']);
      const node = await run.node('n0');
      assert.equal(node.state, 'succeeded');
      assert.deepEqual(node.result, []);
      assert.deepEqual((await run.claim('n1')).node.args, [[]]);
    });

    test('an empty fragment as the last step settles the workflow in the replace commit', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(group(sig('a'), sig('r')));
      await run.run('n0', 'A');
      const r = await run.claim('n1');
      const res = await run.replace('n1', r.token, fragmentGraph(group(group(), group()), 'n1', r.node));
      assert.deepEqual(res, { status: 'ok', ready: [], settled: 'succeeded' });
      assert.deepEqual(await store.outcome(run.id), { state: 'succeeded', result: ['A', [[], []]], failures: [] });
    });

    test('a fragment whose first step is an empty chord header passes [] on', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(sig('r'));
      const r = await run.claim('n0');
      const res = await run.replace('n0', r.token, fragmentGraph(chord([], sig('body')), 'n0', r.node));
      assert.deepEqual(readyIds(res), ['n0.0']);
      const b = await run.claim('n0.0');
      assert.deepEqual(b.node.args, [[]]);
      assert.equal((await run.complete('n0.0', b.token, 'fine')).settled, 'succeeded');
    });

    test('a fragment failure fails the node and blocks downstream; errbacks fire once', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(chain(sig('r'), sig('c')).onError(sig('eb')));
      const r = await run.claim('n0');
      assert.deepEqual(r.node.errbacks, [0]);
      await run.replace('n0', r.token, fragmentGraph(group(sig('x'), sig('y')), 'n0', r.node));
      const res = await run.runFail('n0.0', boom('x broke'));
      assert.deepEqual(readyIds(res), ['e0']);
      assert.deepEqual(await run.states(), { n0: 'failed', n1: 'blocked', 'n0.0': 'failed', 'n0.1': 'queued', e0: 'queued' });
      assert.deepEqual((await run.node('n0')).error, boom('x broke'));
      await run.runFail('n0.1', boom('y broke'));
      assert.equal((await run.snapshot()).nodes.filter((n) => n.kind === 'errback').length, 1);
      const e = await run.claim('e0');
      assert.deepEqual(e.node.args[0], { workflowId: run.id, nodeId: 'n0.0', task: 'x', error: boom('x broke') });
      assert.equal((await run.complete('e0', e.token, null)).settled, 'failed');
      const failures = (await store.outcome(run.id))?.failures.map((f) => f.nodeId);
      // The replaced node n0 fails with its fragment's error; only the fragment nodes are reported.
      assert.deepEqual(failures?.sort(), ['n0.0', 'n0.1']);
    });

    test('a fragment errback is numbered after the workflow errbacks', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(sig('r').onError(sig('outer')));
      const r = await run.claim('n0');
      const graph = fragmentGraph(sig('x').onError(sig('inner')), 'n0', r.node);
      assert.deepEqual(graph.nodes[0]!.errbacks, [1, 0]);
      await run.replace('n0', r.token, graph);
      const x = await run.claim('n0.0');
      assert.equal(x.node.errbackCount, 2);
      const res = await run.fail('n0.0', x.token);
      assert.deepEqual(readyIds(res), ['e0', 'e1']);
      const tasks = (await run.snapshot()).nodes.filter((n) => n.kind === 'errback').map((n) => [n.id, n.task]);
      assert.deepEqual(tasks.sort(), [['e0', 'outer'], ['e1', 'inner']]);
    });

    test('replay after a fragment failure re-runs the failed fragment nodes, and the node takes the new result', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(chain(sig('r'), sig('c')));
      const r = await run.claim('n0');
      await run.replace('n0', r.token, fragmentGraph(group(sig('x'), sig('y')), 'n0', r.node));
      await run.run('n0.0', 'X');
      await run.runFail('n0.1');
      assert.equal((await run.snapshot()).state, 'failed');
      const res = await run.replay();
      assert.equal(res.status, 'ok');
      if (res.status !== 'ok') return;
      assert.deepEqual(readyIds(res), ['n0.1']);
      assert.deepEqual(await run.states(), { n0: 'running', n1: 'pending', 'n0.0': 'succeeded', 'n0.1': 'queued' });
      assert.equal((await run.tryClaim('n0', { attempt: 1 })).status, 'stale');
      await run.run('n0.1', 'Y');
      assert.deepEqual((await run.node('n0')).result, ['X', 'Y']);
      assert.deepEqual((await run.claim('n1')).node.args, [['X', 'Y']]);
    });

    test('an explicit replay of a replaced node re-runs its unfinished fragment, never resolving it early', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(chain(sig('a'), sig('r'), sig('c')));
      await run.run('n0', 'A');
      const r = await run.claim('n1');
      await run.replace('n1', r.token, fragmentGraph(sig('x'), 'n1', r.node));
      await run.runFail('n1.0');
      const res = await run.replay(['n0']);
      assert.equal(res.status, 'ok');
      if (res.status !== 'ok') return;
      assert.deepEqual(readyIds(res), ['n0', 'n1.0']);
      await run.run('n0', 'A2');
      assert.equal((await run.node('n1')).state, 'running', 'the replaced node waits for its fragment, not for its parent');
      assert.equal((await run.node('n1')).result, undefined);
      await run.run('n1.0', 'X');
      assert.deepEqual((await run.node('n1')).result, 'X');
      assert.equal((await run.run('n2', 'C')).settled, 'succeeded');
    });

    test('an explicit replay of a replaced node whose fragment all succeeded settles again at once', { timeout: 20_000 }, async (t) => {
      const { store } = await open(make, t);
      const heard: string[] = [];
      let resolveHeard!: () => void;
      const settledAgain = new Promise<void>((resolve) => { resolveHeard = resolve; });
      const run = new Run(store);
      const stop = await store.subscribe((e) => {
        if (e.workflowId !== run.id || e.type !== 'settled') return;
        heard.push(e.state);
        if (heard.length === 2) resolveHeard();
      });
      t.after(() => stop());
      await run.create(group(sig('a'), sig('r')));
      await run.runFail('n0');
      const r = await run.claim('n1');
      await run.replace('n1', r.token, fragmentGraph(sig('x'), 'n1', r.node));
      assert.equal((await run.run('n1.0', 'X')).settled, 'failed');
      const res = await run.replay(['n1']);
      assert.deepEqual(res, { status: 'ok', ready: [], nodes: ['n1'], settled: 'failed' });
      const snap = await run.snapshot();
      assert.equal(snap.state, 'failed', 'nothing is left to run, so the workflow is not left running');
      assert.deepEqual(snap.nodes.map((n) => [n.id, n.state, n.result]), [['n0', 'failed', undefined], ['n1', 'succeeded', 'X'], ['n1.0', 'succeeded', 'X']]);
      await settledAgain;
      assert.deepEqual(heard, ['failed', 'failed']);
    });
  });
}
