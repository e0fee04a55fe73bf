/**
 * Contract: the sweep (lapsed leases, bounded redelivery, republishing ready nodes nobody claimed),
 * ignoreResult, history, and the few behaviours that need a clock the test can move.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { chain, group, sig } from '../../../src/canvas/builders.js';
import { listen, open, readyIds, Run, sweepUntil, type StoreFactory } from './harness.js';

export function sweepContract(make: StoreFactory): void {
  describe('sweep', () => {
    test('a lapsed lease sends the node back with the same attempt and one more redelivery', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(chain(sig('a'), sig('b')));
      const first = await run.claim('n0', { leaseMs: 1 });
      const swept = await sweepUntil(run, (all) => all.redelivered >= 1);
      assert.equal(swept.redelivered, 1);
      assert.equal(swept.lost, 0);
      assert.deepEqual(swept.ready, [{ workflowId: run.id, nodeId: 'n0', task: 'a', attempt: 1, queue: 'default', delayMs: 0 }]);
      const n = await run.node('n0');
      assert.equal(n.state, 'queued');
      assert.equal(n.redeliveries, 1);
      assert.equal(await store.renew({ workflowId: run.id, nodeId: 'n0', token: first.token, leaseMs: 60_000 }), 'lost');
      assert.equal((await run.complete('n0', first.token, 'late')).status, 'stale');
      // The first claim re-sent (its reply lost in a cut, say): stale, not a second claim under the same token.
      assert.equal((await run.tryClaim('n0', { token: first.token })).status, 'stale');
      assert.equal((await run.node('n0')).state, 'queued');
      const second = await run.claim('n0');
      assert.equal(second.node.attempt, 1);
      assert.equal(second.node.redeliveries, 1);
      assert.equal(second.node.retries, 0);
      await run.complete('n0', second.token, 'A');
      assert.equal((await run.node('n0')).attempts, 2);
      assert.deepEqual((await run.claim('n1')).node.args, ['A']);
    });

    test('a renewed lease is not redelivered; a live lease is left alone', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(group(sig('a'), sig('b')));
      const a = await run.claim('n0', { leaseMs: 1 });
      assert.equal(await store.renew({ workflowId: run.id, nodeId: 'n0', token: a.token, leaseMs: 60_000 }), 'ok');
      await run.claim('n1', { leaseMs: 60_000 });
      const swept = await run.sweep(3_600_000);
      assert.deepEqual(swept, { ready: [], redelivered: 0, lost: 0, settled: [] });
      assert.deepEqual(await run.states(), { n0: 'running', n1: 'running' });
    });

    test('past maxRedeliveries the node fails with WorkerLostError, blocks downstream and settles the workflow', { timeout: 20_000 }, async (t) => {
      const { store } = await open(make, t);
      const bus = await listen(store);
      t.after(() => bus.stop());
      const run = new Run(store);
      await run.create(chain(sig('a').set({ maxRedeliveries: 1 }), sig('b')));
      await run.claim('n0', { leaseMs: 1 });
      await sweepUntil(run, (all) => all.redelivered >= 1);
      const last = await run.claim('n0', { leaseMs: 1 });
      const swept = await sweepUntil(run, (all) => all.lost >= 1);
      assert.equal(swept.redelivered, 0);
      assert.deepEqual(swept.settled, [{ workflowId: run.id, state: 'failed' }]);
      // Its message, not to publish (it failed) but for the sweeper's dead-letter copy.
      assert.deepEqual(swept.lostNodes, [{ workflowId: run.id, nodeId: 'n0', task: 'a', attempt: 1, queue: 'default', delayMs: 0 }]);
      assert.deepEqual(swept.ready, []);
      const snap = await run.snapshot();
      assert.equal(snap.state, 'failed');
      assert.deepEqual(snap.nodes.map((n) => [n.state, n.redeliveries]), [['failed', 1], ['blocked', 0]]);
      assert.equal(snap.nodes[0]!.error?.name, 'WorkerLostError');
      const outcome = await store.outcome(run.id);
      assert.deepEqual(outcome?.failures.map((f) => [f.nodeId, f.error.name]), [['n0', 'WorkerLostError']]);
      // the worker that lost its lease is fenced off, whatever it reports
      assert.equal((await run.complete('n0', last.token, 'late')).status, 'stale');
      assert.equal((await run.fail('n0', last.token)).status, 'stale');
      assert.equal((await run.retry('n0', last.token, 0)).status, 'stale');
      assert.equal((await run.node('n0')).error?.name, 'WorkerLostError');
      assert.deepEqual((await run.sweep(0)).settled, []);
      await bus.barrier();
      assert.deepEqual(bus.events.filter((e) => e.workflowId === run.id), [{ type: 'settled', workflowId: run.id, state: 'failed' }]);
    });

    test('release: a stopping worker hands its node back at once, as a lapsed lease would; past maxRedeliveries it is lost', async (t) => {
      const { store } = await open(make, t, { history: true });
      const run = new Run(store);
      await run.create(sig('a', [1], { maxRedeliveries: 1 }));
      const first = await run.claim('n0');
      assert.equal((await store.release({ workflowId: run.id, nodeId: 'n0', token: 'not-the-holder' })).status, 'stale');
      const released = await store.release({ workflowId: run.id, nodeId: 'n0', token: first.token });
      assert.equal(released.status, 'ok');
      assert.deepEqual(released.ready.map((r) => [r.nodeId, r.attempt, r.delayMs]), [['n0', 1, 0]]);
      run.note(released.ready);
      const node = await run.node('n0');
      assert.deepEqual([node.state, node.redeliveries], ['queued', 1]);
      // Released once: a re-sent release and the old worker's late commits are stale; the next claim runs it.
      assert.equal((await store.release({ workflowId: run.id, nodeId: 'n0', token: first.token })).status, 'stale');
      assert.equal((await run.complete('n0', first.token, 'late')).status, 'stale');
      assert.equal((await run.tryClaim('n0', { token: first.token })).status, 'stale');
      const second = await run.claim('n0');
      assert.equal(second.node.redeliveries, 1);
      // maxRedeliveries reached: released again, the node fails with WorkerLostError and settles the workflow.
      const lost = await store.release({ workflowId: run.id, nodeId: 'n0', token: second.token });
      assert.deepEqual([lost.status, lost.ready, lost.settled], ['ok', [], 'failed']);
      assert.equal((await run.node('n0')).error?.name, 'WorkerLostError');
      assert.equal((await store.release({ workflowId: 'no-such-workflow', nodeId: 'n0', token: second.token })).status, 'orphan');
      const moves = (await store.history(run.id)).map((h) => `${h.from}>${h.to}`);
      assert.deepEqual(moves, ['pending>queued', 'queued>running', 'running>queued', 'queued>running', 'running>failed']);
    });

    test('a lost node fires its errback once', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(sig('a').set({ maxRedeliveries: 0 }).onError(sig('eb')));
      await run.claim('n0', { leaseMs: 1 });
      const swept = await sweepUntil(run, (all) => all.lost >= 1);
      assert.deepEqual(readyIds(swept), ['e0']);
      assert.deepEqual(swept.settled, []);
      const e = await run.claim('e0');
      assert.equal((e.node.args[0] as { error: { name: string } }).error.name, 'WorkerLostError');
      assert.equal((await run.complete('e0', e.token, null)).settled, 'failed');
    });

    test('a ready node nobody claimed is republished after republishAfterMs, never before', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(group(sig('a'), sig('b').set({ countdownMs: 3_600_000 })));
      assert.deepEqual((await run.sweep(3_600_000)).ready, []);
      const swept = await sweepUntil(run, (all) => all.ready.length > 0, { republishAfterMs: 1 });
      assert.deepEqual(swept.ready, [{ workflowId: run.id, nodeId: 'n0', task: 'a', attempt: 1, queue: 'default', delayMs: 0 }]);
      assert.equal(swept.redelivered, 0);
      assert.deepEqual(await run.states(), { n0: 'queued', n1: 'queued' });
      assert.deepEqual((await run.sweep(3_600_000)).ready, [], 'republishing restarts the wait');
      await run.run('n0', 'A');
      assert.equal((await run.node('n1')).state, 'queued');
    });

    test('settled workflows are left alone', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(sig('a'));
      const c = await run.claim('n0', { leaseMs: 1 });
      await run.complete('n0', c.token, 1);
      const before = await run.snapshot();
      assert.deepEqual(await run.sweep(0), { ready: [], redelivered: 0, lost: 0, settled: [] });
      assert.deepEqual(await run.snapshot(), before);
    });
  });

  describe('ignoreResult', () => {
    test('the result is not shown, but dependents still receive it', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(chain(sig('a'), sig('b'), sig('c')));
      const a = await run.claim('n0');
      await run.complete('n0', a.token, { secret: 1 }, true);
      const n = await run.node('n0');
      assert.equal(n.state, 'succeeded');
      assert.equal('result' in n, false);
      const b = await run.claim('n1');
      assert.deepEqual(b.node.args, [{ secret: 1 }]);
      await run.complete('n1', b.token, 'B');
      await run.run('n2', 'C');
      assert.equal('result' in (await run.node('n0')), false);
      assert.equal((await run.node('n1')).result, 'B');
    });
  });

  describe('history', () => {
    test('records every applied transition with its attempt and claim token when enabled', async (t) => {
      const { store } = await open(make, t, { history: true });
      const run = new Run(store);
      await run.create(chain(sig('a'), sig('b')));
      const a = await run.claim('n0');
      await run.retry('n0', a.token, 0);
      const a2 = await run.claim('n0');
      await run.complete('n0', a2.token, 1);
      const h = await store.history(run.id);
      assert.deepEqual(h.map((r) => [r.node, r.from, r.to, r.attempt]), [
        ['n0', 'pending', 'queued', 1], ['n0', 'queued', 'running', 1], ['n0', 'running', 'retrying', 1],
        ['n0', 'retrying', 'running', 2], ['n0', 'running', 'succeeded', 2], ['n1', 'pending', 'queued', 1],
      ]);
      assert.equal(h[0]!.token, undefined);
      assert.equal(h[1]!.token, a.token);
      assert.equal(h[3]!.token, a2.token);
    });

    test('is empty when not enabled', async (t) => {
      const { store } = await open(make, t, { history: false });
      const run = new Run(store);
      await run.create(sig('a'));
      await run.run('n0', 1);
      assert.deepEqual(await store.history(run.id), []);
    });
  });

  describe('with a clock the test moves', () => {
    test('countdowns, retry delays and republishing follow the store clock exactly', async (t) => {
      const h = await open(make, t, { clock: 'fake' });
      if (!h.advanceClock) return t.skip('this store keeps its own clock');
      const run = new Run(h.store);
      await run.create(chain(sig('a').set({ countdownMs: 1000 }), sig('b')));
      assert.deepEqual(await run.tryClaim('n0').then((r) => r.status === 'early' && r.delayMs), 1000);
      await h.advanceClock(999);
      assert.deepEqual(await run.tryClaim('n0').then((r) => r.status === 'early' && r.delayMs), 1);
      assert.deepEqual((await run.sweep(0)).ready, [], 'a node is not republished before it is due');
      await h.advanceClock(1);
      assert.deepEqual(readyIds(await run.sweep(0)), ['n0']);
      const c = await run.claim('n0');
      await run.retry('n0', c.token, 5000);
      await h.advanceClock(4999);
      assert.equal((await run.tryClaim('n0')).status, 'early');
      assert.deepEqual((await run.sweep(500)).ready, []);
      await h.advanceClock(1);
      assert.deepEqual((await run.sweep(500)).ready, []);
      await h.advanceClock(500);
      assert.deepEqual(readyIds(await run.sweep(500)), ['n0']);
      assert.equal((await run.claim('n0')).node.attempt, 2);
    });

    test('republishing backs off: after republishAfterMs, then 2x, 4x ... up to 16x; a claim starts it over', async (t) => {
      const h = await open(make, t, { clock: 'fake' });
      if (!h.advanceClock) return t.skip('this store keeps its own clock');
      const run = new Run(h.store);
      await run.create(chain(sig('a'), sig('b')));
      const after = 1000;
      const republishedAt: number[] = [];
      for (let elapsed = 0; republishedAt.length < 7; elapsed += 100) {
        if ((await run.sweep(after)).ready.length > 0) republishedAt.push(elapsed);
        await h.advanceClock(100);
      }
      const gaps = republishedAt.map((at, i) => at - (republishedAt[i - 1] ?? 0));
      assert.deepEqual(gaps, [1000, 2000, 4000, 8000, 16000, 16000, 16000]);
      const c = await run.claim('n0');
      await run.complete('n0', c.token, 'A');
      await h.advanceClock(after - 1);
      assert.deepEqual((await run.sweep(after)).ready, []);
      await h.advanceClock(1);
      assert.deepEqual(readyIds(await run.sweep(after)), ['n1'], 'a newly ready node waits republishAfterMs');
      await run.claim('n1', { leaseMs: 1 });
      await h.advanceClock(1);
      assert.equal((await run.sweep(3_600_000)).redelivered, 1);
      await h.advanceClock(after);
      assert.deepEqual(readyIds(await run.sweep(after)), ['n1'], 'a claim started the backoff over');
    });

    test('a node sent back from a lapsed lease is republished after redeliveredRepublishAfterMs, then 2, 4 ... x that up to republishAfterMs', async (t) => {
      const h = await open(make, t, { clock: 'fake' });
      if (!h.advanceClock) return t.skip('this store keeps its own clock');
      const run = new Run(h.store);
      await run.create(chain(sig('a'), sig('b')));
      const after = 10_000;
      const sooner = 1_000;
      await run.claim('n0', { leaseMs: 100 });
      await h.advanceClock(100);
      // The sweep that sends it back lists its message; the sweeper died before publishing it (nothing claims).
      const swept = await run.sweep(after, sooner);
      assert.deepEqual([swept.redelivered, readyIds(swept)], [1, ['n0']]);
      await h.advanceClock(sooner - 1);
      assert.deepEqual((await run.sweep(after, sooner)).ready, [], 'not before redeliveredRepublishAfterMs');
      await h.advanceClock(1);
      assert.deepEqual(readyIds(await run.sweep(after, sooner)), ['n0'], 'republished after redeliveredRepublishAfterMs');
      // Then after 2, 4, 8 x that (each republish may be lost with its sweeper too), until it reaches
      // republishAfterMs, and from there as any node: 2 x, 4 x republishAfterMs.
      const republishedAt: number[] = [];
      for (let elapsed = 0; republishedAt.length < 6; elapsed += 500) {
        await h.advanceClock(500);
        if ((await run.sweep(after, sooner)).ready.length > 0) republishedAt.push(elapsed + 500);
      }
      const gaps = republishedAt.map((at, i) => at - (republishedAt[i - 1] ?? 0));
      assert.deepEqual(gaps, [2 * sooner, 4 * sooner, 8 * sooner, after, 2 * after, 4 * after]);
      // A node that was never sent back waits the whole republishAfterMs, whatever redeliveredRepublishAfterMs says.
      const c = await run.claim('n0');
      await run.complete('n0', c.token, 'A');
      await h.advanceClock(after - 1);
      assert.deepEqual((await run.sweep(after, sooner)).ready, []);
      await h.advanceClock(1);
      assert.deepEqual(readyIds(await run.sweep(after, sooner)), ['n1']);
      // Without the option (or with one not under republishAfterMs) a sent-back node waits republishAfterMs.
      await run.claim('n1', { leaseMs: 100 });
      await h.advanceClock(100);
      assert.equal((await run.sweep(after, 2 * after)).redelivered, 1);
      await h.advanceClock(after - 1);
      assert.deepEqual((await run.sweep(after)).ready, []);
      await h.advanceClock(1);
      assert.deepEqual(readyIds(await run.sweep(after)), ['n1']);
    });

    test('an errback a lost node fired in a sweep is republished after redeliveredRepublishAfterMs too', async (t) => {
      const h = await open(make, t, { clock: 'fake' });
      if (!h.advanceClock) return t.skip('this store keeps its own clock');
      const run = new Run(h.store);
      await run.create(sig('a').set({ maxRedeliveries: 0 }).onError(sig('eb')));
      await run.claim('n0', { leaseMs: 100 });
      await h.advanceClock(100);
      const swept = await run.sweep(10_000, 1_000);
      assert.deepEqual([swept.lost, readyIds(swept)], [1, ['e0']]);
      await h.advanceClock(999);
      assert.deepEqual((await run.sweep(10_000, 1_000)).ready, []);
      await h.advanceClock(1);
      assert.deepEqual(readyIds(await run.sweep(10_000, 1_000)), ['e0']);
    });

    test('leases lapse exactly at leaseMs; timestamps are store time', async (t) => {
      const h = await open(make, t, { clock: 'fake' });
      if (!h.advanceClock) return t.skip('this store keeps its own clock');
      const run = new Run(h.store);
      await run.create(sig('a'));
      const created = (await run.snapshot()).createdAt;
      await h.advanceClock(10);
      const c = await run.claim('n0', { leaseMs: 1000 });
      await h.advanceClock(999);
      assert.equal((await run.sweep(3_600_000)).redelivered, 0);
      assert.equal(await h.store.renew({ workflowId: run.id, nodeId: 'n0', token: c.token, leaseMs: 1000 }), 'ok');
      await h.advanceClock(999);
      assert.equal((await run.sweep(3_600_000)).redelivered, 0);
      await h.advanceClock(1);
      assert.equal((await run.sweep(3_600_000)).redelivered, 1);
      const c2 = await run.claim('n0');
      await h.advanceClock(5);
      await run.complete('n0', c2.token, 1);
      const snap = await run.snapshot();
      assert.equal(snap.nodes[0]!.startedAt, created + 2009);
      assert.equal(snap.nodes[0]!.finishedAt, created + 2014);
      assert.equal(snap.settledAt, created + 2014);
    });
  });
}
