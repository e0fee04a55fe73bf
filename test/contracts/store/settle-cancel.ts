/**
 * Contract: a workflow settles exactly once and says so once (DESIGN inv 7), a small result riding along;
 * outcome(); cancel.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { chain, group, sig } from '../../../src/canvas/builders.js';
import type { JsonValue } from '../../../src/core/json.js';
import type { StoreEvent } from '../../../src/stores/store.js';
import { listen, open, Run, type StoreFactory } from './harness.js';

export function settleCancelContract(make: StoreFactory): void {
  describe('settle', () => {
    test('exactly once: one commit reports it, subscribers hear one settled event', { timeout: 20_000 }, async (t) => {
      const { store } = await open(make, t);
      const bus = await listen(store);
      t.after(() => bus.stop());
      const run = new Run(store);
      await run.create(chain(sig('a'), group(sig('b'), sig('c'))));
      assert.equal((await run.run('n0', 'A')).settled, undefined);
      assert.equal((await run.run('n1', 'B')).settled, undefined);
      const c = await run.claim('n2');
      const last = await run.complete('n2', c.token, 'C');
      assert.equal(last.settled, 'succeeded');
      assert.deepEqual(await run.complete('n2', c.token, 'C'), { status: 'already', ready: [] });
      assert.deepEqual((await run.sweep(0)).settled, []);
      assert.deepEqual(await store.cancel(run.id), { status: 'already', state: 'succeeded' });
      await bus.barrier();
      const mine = bus.events.filter((e) => e.workflowId === run.id);
      assert.deepEqual(mine, [{ type: 'settled', workflowId: run.id, state: 'succeeded', result: '["B","C"]' }]);
      const snap = await run.snapshot();
      assert.equal(snap.state, 'succeeded');
      assert.deepEqual(snap.result, ['B', 'C']);
      assert.equal(typeof snap.settledAt, 'number');
      assert.ok(snap.settledAt! >= snap.createdAt);
    });

    test('a succeeded settle carries the result text, raw, when it is at most 16 KiB of UTF-8', { timeout: 20_000 }, async (t) => {
      const { store } = await open(make, t);
      const bus = await listen(store);
      t.after(() => bus.stop());
      // Byte lengths of the JSON texts: 16,384 and 16,385 in ASCII; 16,384 and 16,386 in two-byte characters.
      const results: JsonValue[] = ['a'.repeat(16_382), 'a'.repeat(16_383), 'é'.repeat(8_191), 'é'.repeat(8_192), { n: [1.5, -0, 1e21], s: '😀' }];
      const runs: Run[] = [];
      for (const result of results) {
        const run = new Run(store);
        await run.create(sig('a'));
        await run.run('n0', result);
        runs.push(run);
      }
      await bus.barrier();
      const carried = runs.map((run) => {
        const events = bus.events.filter((e) => e.workflowId === run.id);
        assert.equal(events.length, 1);
        return events[0]!.type === 'settled' ? events[0]!.result : 'not a settle';
      });
      assert.deepEqual(carried, [JSON.stringify(results[0]), undefined, JSON.stringify(results[2]), undefined, '{"n":[1.5,0,1e+21],"s":"😀"}']);
    });

    test('outcome: the state while running, then the result built from the recipe', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(group(sig('a'), chain(sig('b'), sig('c')), group(), group(sig('d'))));
      assert.deepEqual(await store.outcome(run.id), { state: 'running', failures: [] });
      await run.run('n0', { a: 1 });
      await run.run('n1', 'B');
      await run.run('n3', 4);
      assert.deepEqual(await store.outcome(run.id), { state: 'running', failures: [] });
      await run.run('n2', 'C');
      assert.deepEqual(await store.outcome(run.id), { state: 'succeeded', result: [{ a: 1 }, 'C', [], [4]], failures: [] });
    });

    test('unsubscribe stops notifications', { timeout: 20_000 }, async (t) => {
      const { store } = await open(make, t);
      const heard: StoreEvent[] = [];
      const stop = await store.subscribe((e) => heard.push(e));
      stop();
      const bus = await listen(store);
      t.after(() => bus.stop());
      const run = new Run(store);
      await run.create(sig('a'));
      await run.run('n0', 1);
      await bus.barrier();
      assert.equal(bus.events.filter((e) => e.workflowId === run.id).length, 1);
      assert.deepEqual(heard, []);
    });

    test('a listener of some event types hears only those', { timeout: 20_000 }, async (t) => {
      const { store } = await open(make, t);
      const cancels: StoreEvent[] = [];
      const settles: StoreEvent[] = [];
      const stops = [await store.subscribe((e) => cancels.push(e), ['canceled']), await store.subscribe((e) => settles.push(e), ['settled'])];
      const bus = await listen(store);
      t.after(() => {
        bus.stop();
        for (const stop of stops) stop();
      });
      const done = new Run(store);
      await done.create(sig('a'));
      await done.run('n0', 1);
      const canceled = new Run(store);
      await canceled.create(sig('a'));
      await store.cancel(canceled.id);
      await bus.barrier(); // both listeners subscribed before: their events have come by now too
      const ours = (events: StoreEvent[]): StoreEvent[] => events.filter((e) => e.workflowId === done.id || e.workflowId === canceled.id);
      assert.deepEqual(ours(cancels), [{ type: 'canceled', workflowId: canceled.id }]);
      assert.deepEqual(ours(settles).map((e) => [e.workflowId, e.type === 'settled' ? e.state : '']), [[done.id, 'succeeded'], [canceled.id, 'canceled']]);
    });
  });

  describe('cancel', () => {
    test('queued and pending nodes never run, the running one is fenced off, the workflow settles canceled', { timeout: 20_000 }, async (t) => {
      const { store } = await open(make, t);
      const bus = await listen(store);
      t.after(() => bus.stop());
      const run = new Run(store);
      await run.create(chain(group(sig('a'), sig('b'), sig('c')), sig('d')));
      await run.run('n0', 'A');
      const b = await run.claim('n1');
      const res = await store.cancel(run.id);
      assert.deepEqual(res, { status: 'ok', state: 'canceled' });
      assert.deepEqual(await run.states(), { n0: 'succeeded', n1: 'canceled', n2: 'canceled', n3: 'canceled' });
      assert.equal((await run.node('n0')).result, 'A');
      assert.equal(await store.renew({ workflowId: run.id, nodeId: 'n1', token: b.token, leaseMs: 1000 }), 'canceled');
      assert.deepEqual(await run.complete('n1', b.token, 'B'), { status: 'stale', ready: [] });
      assert.equal((await run.fail('n1', b.token)).status, 'stale');
      assert.equal((await run.retry('n1', b.token, 0)).status, 'stale');
      assert.equal((await run.tryClaim('n2')).status, 'stale');
      assert.deepEqual(await store.cancel(run.id), { status: 'already', state: 'canceled' });
      assert.deepEqual(await store.outcome(run.id), { state: 'canceled', failures: [] });
      const snap = await run.snapshot();
      assert.equal(snap.state, 'canceled');
      assert.equal(typeof snap.settledAt, 'number');
      assert.equal(snap.result, undefined);
      assert.deepEqual((await run.sweep(0)).ready.filter((r) => r.workflowId === run.id), []);
      await bus.barrier();
      const mine = bus.events.filter((e) => e.workflowId === run.id);
      assert.deepEqual(mine.filter((e) => e.type === 'settled'), [{ type: 'settled', workflowId: run.id, state: 'canceled' }]);
      assert.deepEqual(mine.filter((e) => e.type === 'canceled'), [{ type: 'canceled', workflowId: run.id }]);
    });

    test('cancel of a settled or unknown workflow changes nothing', async (t) => {
      const { store } = await open(make, t);
      const run = new Run(store);
      await run.create(sig('a'));
      await run.runFail('n0');
      const before = await run.snapshot();
      assert.deepEqual(await store.cancel(run.id), { status: 'already', state: 'failed' });
      assert.deepEqual(await run.snapshot(), before);
      assert.deepEqual(await store.cancel('missing-workflow'), { status: 'missing' });
    });
  });
}
