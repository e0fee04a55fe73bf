/**
 * Contract: fan-in (a counter, DESIGN inv 3), failure spreading (blocked downstream, siblings keep going) and
 * errbacks (once per onError, whatever fails inside).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { chain, chord, group, sig } from '../../../src/canvas/builders.js';
import { boom, open, readyIds, Run, type Claim, type StoreFactory } from './harness.js';

export function fanInContract(make: StoreFactory): void {
  describe('fan-in', () => {
    test('chord of 50: the body is ready only after the last header completion, exactly once, in any order', async (t) => {
      const { store } = await open(make, t, { history: true });
      const width = 50;
      await fc.assert(fc.asyncProperty(
        fc.shuffledSubarray([...Array(width).keys()], { minLength: width, maxLength: width }),
        fc.array(fc.nat(width - 1), { maxLength: 20 }),
        async (order, resend) => {
          const run = new Run(store);
          await run.create(chord(Array.from({ length: width }, (_, i) => sig('h', [i])), sig('body')));
          const claims: Claim[] = [];
          for (let i = 0; i < width; i++) claims.push(await run.claim(`n${i}`));
          const completed: number[] = [];
          for (const [k, i] of order.entries()) {
            const res = await run.complete(`n${i}`, claims[i]!.token, i * 10);
            completed.push(i);
            assert.deepEqual(readyIds(res), k === width - 1 ? [`n${width}`] : []);
            // duplicates of earlier completions must not move the counter
            const dup = resend[k % Math.max(1, resend.length)];
            if (dup !== undefined && completed.includes(dup)) {
              assert.deepEqual(await run.complete(`n${dup}`, claims[dup]!.token, dup * 10), { status: 'already', ready: [] });
            }
            if (k < width - 1) assert.equal((await run.node(`n${width}`)).state, 'pending');
          }
          const body = (await store.history(run.id)).filter((h) => h.node === `n${width}`);
          assert.deepEqual(body.map((h) => `${h.from}>${h.to}`), ['pending>queued']);
          const claimed = await run.claim(`n${width}`);
          assert.deepEqual(claimed.node.args, [Array.from({ length: width }, (_, i) => i * 10)]);
        },
      ), { numRuns: 8 });
    });
  });

  describe('failure', () => {
    test('a failed node blocks what is downstream; siblings keep running and keep their results', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(chain(group(sig('a'), sig('b'), chain(sig('c'), sig('d'))), sig('e'), sig('f')));
      const b = await run.claim('n1');
      const res = await run.runFail('n0', boom('a broke'));
      assert.deepEqual(res.ready, []);
      assert.equal(res.settled, undefined);
      assert.deepEqual(await run.states(), { n0: 'failed', n1: 'running', n2: 'queued', n3: 'pending', n4: 'blocked', n5: 'blocked' });
      assert.equal((await store.outcome(run.id))?.state, 'running');
      await run.complete('n1', b.token, 'B');
      assert.deepEqual(readyIds(await run.run('n2', 'C')), ['n3']);
      const last = await run.run('n3', 'D');
      assert.equal(last.settled, 'failed');
      const snap = await run.snapshot();
      assert.equal(snap.state, 'failed');
      assert.deepEqual(snap.nodes.map((n) => [n.id, n.state, n.result]), [
        ['n0', 'failed', undefined], ['n1', 'succeeded', 'B'], ['n2', 'succeeded', 'C'], ['n3', 'succeeded', 'D'],
        ['n4', 'blocked', undefined], ['n5', 'blocked', undefined],
      ]);
      assert.deepEqual(snap.nodes[0]!.error, boom('a broke'));
      assert.equal(snap.result, undefined);
      const outcome = await store.outcome(run.id);
      assert.deepEqual(outcome, { state: 'failed', failures: [{ nodeId: 'n0', task: 'a', error: boom('a broke') }] });
    });

    test('a failed chord header member means the body never runs', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(chord([sig('a'), sig('b')], sig('body')));
      await run.run('n0', 1);
      const res = await run.runFail('n1');
      assert.equal(res.settled, 'failed');
      assert.deepEqual(await run.states(), { n0: 'succeeded', n1: 'failed', n2: 'blocked' });
      assert.equal((await run.tryClaim('n2', { task: 'body' })).status, 'stale');
    });
  });

  describe('errbacks', () => {
    test('fire once per onError even when two nodes inside fail, with the failure info prepended', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(chain(sig('a'), group(sig('b'), sig('c'))).onError(sig('report', ['ops'], { queue: 'alerts' })));
      await run.run('n0', 'A');
      const b = await run.claim('n1');
      const c = await run.claim('n2');
      const first = await run.fail('n1', b.token, boom('b broke'));
      assert.deepEqual(first.ready, [{ workflowId: run.id, nodeId: 'e0', task: 'report', attempt: 1, queue: 'alerts', delayMs: 0 }]);
      const second = await run.fail('n2', c.token, boom('c broke'));
      assert.deepEqual(second.ready, []);
      assert.equal(second.settled, undefined, 'the errback is still open');
      const snap = await run.snapshot();
      const errbacks = snap.nodes.filter((n) => n.kind === 'errback');
      assert.deepEqual(errbacks.map((n) => [n.id, n.task, n.state, n.queue]), [['e0', 'report', 'queued', 'alerts']]);
      const e = await run.claim('e0');
      assert.equal(e.node.kind, 'errback');
      assert.deepEqual(e.node.args, [{ workflowId: run.id, nodeId: 'n1', task: 'b', error: boom('b broke') }, 'ops']);
      const done = await run.complete('e0', e.token, null);
      assert.equal(done.settled, 'failed');
      const outcome = await store.outcome(run.id);
      assert.deepEqual(outcome?.failures.map((f) => f.nodeId), ['n1', 'n2']);
    });

    test('nested onError: each covering errback fires once; an immutable errback gets no info', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      const inner = group(sig('b'), sig('c')).onError(sig('inner', [1], { immutable: true }));
      await run.create(chain(sig('a'), inner, sig('d')).onError(sig('outer', [2])));
      await run.run('n0', 'A');
      const res = await run.runFail('n1', boom('b broke'));
      assert.deepEqual(readyIds(res), ['e0', 'e1']);
      await run.runFail('n2');
      const ids = (await run.snapshot()).nodes.map((n) => n.id);
      assert.deepEqual(ids, ['n0', 'n1', 'n2', 'n3', 'e1', 'e0']);
      assert.deepEqual((await run.claim('e1')).node.args, [1]);
      assert.deepEqual((await run.claim('e0')).node.args, [{ workflowId: run.id, nodeId: 'n1', task: 'b', error: boom('b broke') }, 2]);
    });

    test('an errback does not fire when nothing inside its canvas fails', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(chain(sig('a').onError(sig('ea')), sig('b')).onError(sig('eb')));
      await run.run('n0', 1);
      const res = await run.runFail('n1');
      assert.deepEqual(readyIds(res), ['e0'], 'only the outer errback covers b');
      assert.equal((await run.snapshot()).nodes.filter((n) => n.kind === 'errback').length, 1);
    });

    test('a failing errback fires no errback and does not fail the workflow by itself', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(group(sig('a'), sig('b')).onError(sig('eb')));
      await run.runFail('n0');
      const res = await run.runFail('e0');
      assert.deepEqual(res.ready, []);
      assert.equal(res.settled, undefined);
      const last = await run.run('n1', 'B');
      assert.equal(last.settled, 'failed');
      assert.deepEqual((await store.outcome(run.id))?.failures.map((f) => f.nodeId), ['n0']);
    });
  });
}
