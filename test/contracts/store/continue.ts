/**
 * Contract: a completion's continuation (store.ts ContinueRequest). A worker completing a node may ask the
 * store to claim, in the same atomic step, the first node the completion makes ready that it would take anyway
 * (due now, on one of its queues). That node comes back as `next`, running under the worker's token and left
 * out of `ready`; nothing else changes. A re-sent completion answers `already` with the same continuation while
 * it still runs under that token, and a continuation whose worker is gone comes back through its lease.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { chain, chord, group, sig } from '../../../src/canvas/builders.js';
import type { CommitResult, ContinueRequest } from '../../../src/stores/store.js';
import { open, readyIds, Run, sweepUntil, type StoreFactory } from './harness.js';

function ask(queues: ContinueRequest['queues'] = ['default'], leaseMs = 60_000): ContinueRequest {
  return { token: randomUUID(), leaseMs, queues };
}

async function completeWith(run: Run, nodeId: string, token: string, result: unknown, next: ContinueRequest): Promise<CommitResult> {
  const res = await run.store.complete({ workflowId: run.id, nodeId, token, result: JSON.stringify(result), ignoreResult: false, next });
  run.note(res.ready);
  return res;
}

export function continueContract(make: StoreFactory): void {
  describe('continuation', () => {
    test('a chain step claims the next step for the completing worker, with its input, in the same step', async (t) => {
      const { store } = await open(make, t, { history: true });
      const run = new Run(store);
      await run.create(chain(sig('a', [1]), sig('b', [2]), sig('c')));
      const a = await run.claim('n0');
      const next = ask();
      const res = await completeWith(run, 'n0', a.token, 'A', next);
      assert.equal(res.status, 'ok');
      assert.deepEqual(res.ready, []);
      assert.equal(res.settled, undefined);
      assert.deepEqual(res.next?.message, { workflowId: run.id, nodeId: 'n1', task: 'b', attempt: 1, queue: 'default', delayMs: 0 });
      assert.deepEqual(res.next?.node.args, ['A', 2]);
      assert.equal(res.next?.node.task, 'b');
      assert.equal(res.next?.node.attempt, 1);
      assert.equal(res.next?.node.retries, 0);
      assert.equal(res.next?.node.redeliveries, 0);
      assert.equal(res.next?.node.kind, 'task');
      assert.deepEqual(await run.states(), { n0: 'succeeded', n1: 'running', n2: 'pending' });
      // The node is claimed like any other: became ready and was claimed in this one step, under the new token.
      const history = (await store.history(run.id)).filter((h) => h.node === 'n1');
      assert.deepEqual(history.map((h) => [h.from, h.to]), [['pending', 'queued'], ['queued', 'running']]);
      assert.equal(history[1]?.token, next.token);
      // A message for it (a republish, a duplicate) finds it running: stale.
      assert.equal((await run.tryClaim('n1', { attempt: 1, task: 'b' })).status, 'stale');
      assert.equal(await store.renew({ workflowId: run.id, nodeId: 'n1', token: next.token, leaseMs: 60_000 }), 'ok');
      // And it continues: the last step's completion settles with nothing to continue to.
      const next2 = ask();
      const res2 = await completeWith(run, 'n1', next.token, 'B', next2);
      assert.equal(res2.next?.message.nodeId, 'n2');
      assert.deepEqual(res2.next?.node.args, ['B']);
      const res3 = await completeWith(run, 'n2', next2.token, 'C', ask());
      assert.equal(res3.status, 'ok');
      assert.equal(res3.next, undefined);
      assert.equal(res3.settled, 'succeeded');
      assert.equal((await store.outcome(run.id))?.result, 'C');
    });

    test('only a node due now on one of the worker\'s queues continues; the others are published as before', async (t) => {
      const { store } = await open(make, t);
      const elsewhere = new Run(store);
      await elsewhere.create(chain(sig('a'), sig('b').set({ queue: 'other' })));
      const res = await completeWith(elsewhere, 'n0', (await elsewhere.claim('n0')).token, 1, ask(['default', 'more']));
      assert.equal(res.next, undefined);
      assert.deepEqual(readyIds(res), ['n1']);
      assert.equal((await elsewhere.node('n1')).state, 'queued');

      const any = new Run(store);
      await any.create(chain(sig('a'), sig('b').set({ queue: 'other' })));
      const res2 = await completeWith(any, 'n0', (await any.claim('n0')).token, 1, ask('*'));
      assert.equal(res2.next?.message.queue, 'other');
      assert.deepEqual(res2.ready, []);

      const later = new Run(store);
      await later.create(chain(sig('a'), sig('b').set({ countdownMs: 60_000 })));
      const res3 = await completeWith(later, 'n0', (await later.claim('n0')).token, 1, ask());
      assert.equal(res3.next, undefined);
      assert.deepEqual(res3.ready.map((r) => [r.nodeId, r.delayMs]), [['n1', 60_000]]);

      const prioritized = new Run(store);
      await prioritized.create(chain(sig('a'), sig('b').set({ priority: 7 })));
      const res4 = await completeWith(prioritized, 'n0', (await prioritized.claim('n0')).token, 1, ask());
      assert.equal(res4.next?.message.priority, 7);
    });

    test('a fan-out continues with its first ready node and publishes the rest; a chord\'s last header continues with the body', async (t) => {
      const { store } = await open(make, t);
      const fan = new Run(store);
      await fan.create(chain(sig('a'), group(sig('b'), sig('c'), sig('d'))));
      const res = await completeWith(fan, 'n0', (await fan.claim('n0')).token, 'A', ask());
      assert.equal(res.next?.message.nodeId, 'n1');
      assert.deepEqual(readyIds(res), ['n2', 'n3']);
      assert.deepEqual(await fan.states(), { n0: 'succeeded', n1: 'running', n2: 'queued', n3: 'queued' });

      const join = new Run(store);
      await join.create(chord([sig('h'), sig('h')], sig('body')));
      const first = await completeWith(join, 'n0', (await join.claim('n0')).token, 1, ask());
      assert.equal(first.next, undefined);
      assert.deepEqual(first.ready, []);
      const last = await completeWith(join, 'n1', (await join.claim('n1')).token, 2, ask());
      assert.equal(last.next?.message.nodeId, 'n2');
      assert.deepEqual(last.next?.node.args, [[1, 2]]);
    });

    test('a re-sent completion answers already with the same continuation while it still runs under the token', async (t) => {
      const { store } = await open(make, t, { history: true });
      const run = new Run(store);
      await run.create(chain(sig('a'), sig('b'), sig('c')));
      const a = await run.claim('n0');
      const next = ask();
      const first = await completeWith(run, 'n0', a.token, 'A', next);
      const once = { snapshot: await run.snapshot(), history: await store.history(run.id) };
      const again = await completeWith(run, 'n0', a.token, 'A', next);
      assert.equal(again.status, 'already');
      assert.deepEqual(again.ready, []);
      assert.deepEqual(again.next, first.next);
      assert.deepEqual(await run.snapshot(), once.snapshot);
      assert.deepEqual(await store.history(run.id), once.history);
      // Another token asks for nothing it was given: already, no continuation.
      assert.equal((await completeWith(run, 'n0', a.token, 'A', ask())).next, undefined);
      // Once the continuation completed, the re-send has nothing to hand back.
      await completeWith(run, 'n1', next.token, 'B', ask(['elsewhere']));
      const late = await completeWith(run, 'n0', a.token, 'A', next);
      assert.deepEqual({ status: late.status, next: late.next }, { status: 'already', next: undefined });
    });

    test('a continuation whose worker is gone comes back through its lease as a counted redelivery', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(chain(sig('a'), sig('b')));
      const next = ask(['default'], 1);
      const res = await completeWith(run, 'n0', (await run.claim('n0')).token, 'A', next);
      assert.equal(res.next?.message.nodeId, 'n1');
      const swept = await sweepUntil(run, (all) => all.redelivered >= 1);
      assert.deepEqual(swept.ready.map((r) => [r.nodeId, r.attempt, r.delayMs]), [['n1', 1, 0]]);
      assert.equal((await completeWith(run, 'n1', next.token, 'late', ask())).status, 'stale');
      const again = await run.claim('n1');
      assert.equal(again.node.redeliveries, 1);
      assert.deepEqual(again.node.args, ['A']);
    });
  });
}
