/**
 * Contract: create (idempotent, the whole graph in one step), claim (every answer, and the arguments it
 * builds) and renew.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { chain, chord, group, sig } from '../../../src/canvas/builders.js';
import { open, Run, storedGraph, type Claim, type StoreFactory } from './harness.js';

const nested = () => chain(sig('a', [1]), group(sig('b', [2]), chain(sig('c', [3]), sig('d', [4]))), chord([sig('e', [5]), sig('f', [6])], sig('g', [7])));

export function createClaimContract(make: StoreFactory): void {
  describe('create', () => {
    test('stores every node in declaration order; ready nodes queued, the rest pending', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      const res = await run.create(nested().set({ queue: 'work', priority: 3 }));
      assert.equal(res.created, true);
      assert.deepEqual(res.ready, [{ workflowId: run.id, nodeId: 'n0', task: 'a', attempt: 1, queue: 'work', priority: 3, delayMs: 0 }]);
      const snap = await run.snapshot();
      assert.equal(snap.id, run.id);
      assert.equal(snap.state, 'running');
      assert.equal(typeof snap.createdAt, 'number');
      assert.equal(snap.settledAt, undefined);
      assert.equal(snap.result, undefined);
      assert.deepEqual(snap.nodes.map((n) => [n.id, n.task, n.state, n.deps, n.args]), [
        ['n0', 'a', 'queued', [], [1]],
        ['n1', 'b', 'pending', ['n0'], [2]],
        ['n2', 'c', 'pending', ['n0'], [3]],
        ['n3', 'd', 'pending', ['n2'], [4]],
        ['n4', 'e', 'pending', ['n1', 'n3'], [5]],
        ['n5', 'f', 'pending', ['n1', 'n3'], [6]],
        ['n6', 'g', 'pending', ['n4', 'n5'], [7]],
      ]);
      for (const n of snap.nodes) {
        assert.equal(n.attempts, 0);
        assert.equal(n.kind, 'task');
        assert.equal(n.queue, 'work');
        assert.equal(n.redeliveries, 0);
        assert.equal(n.result, undefined);
      }
    });

    test('is idempotent on the workflow id: a second create changes nothing and publishes nothing', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(chain(sig('a', [1]), sig('b')));
      const before = await run.snapshot();
      const again = await store.create(run.id, storedGraph(group(sig('x'), sig('y'), sig('z'))));
      assert.deepEqual(again, { created: false, ready: [] });
      assert.deepEqual(await run.snapshot(), before);
    });

    test('every node with no dependency is queued at once, with its countdown as delay', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      const res = await run.create(group(sig('a'), sig('b').set({ countdownMs: 5000 }), chain(sig('c'), sig('d'))));
      assert.deepEqual(res.ready.map((r) => [r.nodeId, r.delayMs]), [['n0', 0], ['n1', 5000], ['n2', 0]]);
      assert.deepEqual(await run.states(), { n0: 'queued', n1: 'queued', n2: 'queued', n3: 'pending' });
    });

    test('a wide graph is stored whole', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      const header = Array.from({ length: 500 }, (_, i) => sig('h', [i]));
      const res = await run.create(chord(header, sig('body')));
      assert.equal(res.ready.length, 500);
      const snap = await run.snapshot();
      assert.equal(snap.nodes.length, 501);
      assert.deepEqual(snap.nodes[499]!.args, [499]);
      assert.equal(snap.nodes[500]!.deps.length, 500);
    });

    test('a canvas with no node (an empty group) settles at once with []', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      assert.deepEqual(await run.create(group()), { created: true, ready: [] });
      assert.deepEqual(await store.outcome(run.id), { state: 'succeeded', result: [], failures: [] });
      assert.deepEqual((await run.snapshot()).nodes, []);
    });

    test('the store names its kind and keeps one epoch while its data lives', async (t) => {
      const { store } = await open(make, t);
      assert.ok(typeof store.kind === 'string' && store.kind.length > 0);
      const epoch = await store.epoch();
      assert.ok(typeof epoch === 'string' && epoch.length > 0);
      await new Run(store).create(sig('a'));
      assert.equal(await store.epoch(), epoch);
    });

    test('snapshot and outcome of an unknown workflow are null', async (t) => {
      const { store } = await open(make, t);
      assert.equal(await store.snapshot('no-such-workflow'), null);
      assert.equal(await store.outcome('no-such-workflow'), null);
    });
  });

  describe('claim', () => {
    test('claims a queued node: running, attempts 1, with its options and errbacks', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(chain(sig('a', [1], { maxRetries: 7 }), sig('b')).onError(sig('eb')));
      const c = await run.claim('n0');
      assert.deepEqual(c.node, {
        task: 'a', args: [1], options: { maxRetries: 7 }, attempt: 1, retries: 0, redeliveries: 0, kind: 'task',
        errbacks: [0], errbackCount: 1,
      });
      const n = await run.node('n0');
      assert.equal(n.state, 'running');
      assert.equal(n.attempts, 1);
      assert.equal(typeof n.startedAt, 'number');
    });

    test('orphan: unknown workflow or node', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(sig('a'));
      const base = { nodeId: 'n0', attempt: 1, task: 'a', token: 'tk', leaseMs: 1000 };
      assert.deepEqual(await store.claim({ ...base, workflowId: 'missing-workflow' }), { status: 'orphan' });
      assert.deepEqual(await store.claim({ ...base, workflowId: run.id, nodeId: 'n9' }), { status: 'orphan' });
      assert.equal((await run.node('n0')).state, 'queued');
    });

    test('forged: the message names another task; the node is untouched', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(sig('a'));
      const res = await run.tryClaim('n0', { task: 'evil' });
      assert.equal(res.status, 'forged');
      assert.equal((await run.node('n0')).state, 'queued');
      assert.equal((await run.claim('n0')).node.task, 'a');
    });

    test('stale: an attempt other than the stored one, or a node that is not ready', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(chain(sig('a'), sig('b')));
      assert.equal((await run.tryClaim('n0', { attempt: 2 })).status, 'stale');
      assert.equal((await run.tryClaim('n0', { attempt: 0 })).status, 'stale');
      assert.equal((await run.tryClaim('n1', { attempt: 1, task: 'b' })).status, 'stale');
      assert.deepEqual(await run.states(), { n0: 'queued', n1: 'pending' });
    });

    test('early: a countdown not yet due gives the remaining delay and leaves the node queued', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(sig('a').set({ countdownMs: 60_000 }));
      const res = await run.tryClaim('n0');
      assert.equal(res.status, 'early');
      if (res.status !== 'early') return;
      assert.ok(res.delayMs > 0 && res.delayMs <= 60_000, `delayMs ${res.delayMs}`);
      const n = await run.node('n0');
      assert.equal(n.state, 'queued');
      assert.equal(n.attempts, 0);
    });

    test('already: the same claim re-sent answers claimed again without a second start', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(sig('a', [1]));
      const first = await run.tryClaim('n0', { token: 'tok-1' });
      const second = await run.tryClaim('n0', { token: 'tok-1' });
      assert.equal(first.status, 'claimed');
      assert.equal(second.status, 'claimed');
      if (first.status !== 'claimed' || second.status !== 'claimed') return;
      assert.equal(first.already, false);
      assert.equal(second.already, true);
      assert.deepEqual(second.node, first.node);
      assert.equal((await run.node('n0')).attempts, 1);
      assert.equal((await run.tryClaim('n0', { token: 'tok-2' })).status, 'stale');
    });

    test('args: the parent result is prepended; a group result is an ordered array; immutable steps get none', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(chain(
        sig('a', [1]),
        group(sig('b', ['x']), chain(sig('c'), sig('d')), group(sig('e'), sig('f'))),
        sig('g', ['tail']),
        sig('h', [9], { immutable: true }),
      ));
      await run.run('n0', 'A');
      const claims = new Map<string, Claim>();
      for (const id of ['n1', 'n2', 'n4', 'n5']) {
        const c = await run.claim(id);
        claims.set(id, c);
        assert.deepEqual(c.node.args[0], 'A', `${id} receives the parent result first`);
      }
      assert.deepEqual(claims.get('n1')!.node.args, ['A', 'x']);
      // complete out of declaration order: the body still sees declaration order
      await run.complete('n5', claims.get('n5')!.token, 'F');
      await run.complete('n2', claims.get('n2')!.token, 'C');
      const d = await run.claim('n3');
      assert.deepEqual(d.node.args, ['C']);
      await run.complete('n3', d.token, 'D');
      await run.complete('n4', claims.get('n4')!.token, { e: 1 });
      assert.equal((await run.node('n6')).state, 'pending');
      await run.complete('n1', claims.get('n1')!.token, ['B']);
      const g = await run.claim('n6');
      assert.deepEqual(g.node.args, [[['B'], 'D', [{ e: 1 }, 'F']], 'tail']);
      await run.complete('n6', g.token, 'G');
      const h = await run.claim('n7');
      assert.deepEqual(h.node.args, [9]);
      assert.deepEqual((await run.node('n7')).deps, ['n6']);
    });

    test('args: empty groups give [] and pass their dependencies through', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(chain(sig('a'), group(), sig('b'), chord([], sig('c', ['z']))));
      assert.deepEqual((await run.snapshot()).nodes.map((n) => n.deps), [[], ['n0'], ['n1']]);
      await run.run('n0', 'A');
      const b = await run.claim('n1');
      assert.deepEqual(b.node.args, [[]]);
      await run.complete('n1', b.token, 'B');
      assert.deepEqual((await run.claim('n2')).node.args, [[], 'z']);
    });

    test('args: a group with a parent passes the parent result to every member', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(chain(sig('a'), group(sig('b', [1]), sig('c', [2], { immutable: true }), sig('d', [3]))));
      await run.run('n0', { v: 1 });
      assert.deepEqual((await run.claim('n1')).node.args, [{ v: 1 }, 1]);
      assert.deepEqual((await run.claim('n2')).node.args, [2]);
      assert.deepEqual((await run.claim('n3')).node.args, [{ v: 1 }, 3]);
    });
  });

  describe('renew', () => {
    test('ok for the holder, lost for another token or once committed', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(chain(sig('a'), sig('b')));
      const c = await run.claim('n0');
      const req = { workflowId: run.id, nodeId: 'n0', leaseMs: 60_000 };
      assert.equal(await store.renew({ ...req, token: c.token }), 'ok');
      assert.equal(await store.renew({ ...req, token: 'someone-else' }), 'lost');
      assert.equal(await store.renew({ ...req, workflowId: 'missing-workflow', token: c.token }), 'lost');
      await run.complete('n0', c.token, 1);
      assert.equal(await store.renew({ ...req, token: c.token }), 'lost');
      assert.equal((await run.node('n0')).state, 'succeeded');
    });

    test('canceled once the workflow is canceled', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(sig('a'));
      const c = await run.claim('n0');
      await store.cancel(run.id);
      assert.equal(await store.renew({ workflowId: run.id, nodeId: 'n0', token: c.token, leaseMs: 60_000 }), 'canceled');
      assert.equal((await run.node('n0')).state, 'canceled');
    });
  });
}
