/**
 * `result()` and `settled()` through the settle watch (DESIGN inv 7): a notification carrying the result ends
 * the wait without reading the store again; one without it (failures, a large result, an older store) or with a
 * result that fails the JSON checks falls back to a read; a notification that lands while the first read is in
 * flight is still heard (armed before the read: no lost wakeup, no wait for the poll).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WorkflowFailedError } from '../../src/core/errors.js';
import { WorkflowHandle, type HandleHost } from '../../src/runtime/handle.js';
import type { Kernel } from '../../src/runtime/kernel.js';
import { eventOutcome, MAX_EXPECTED, SettleWatch } from '../../src/runtime/settle-watch.js';
import type { Store, StoreEvent, WorkflowOutcome } from '../../src/stores/store.js';

/** A store with just `outcome` and `subscribe`: reads answer from a queue of outcomes, events are sent by hand. */
class FakeStore {
  reads = 0;
  private listener: ((event: StoreEvent) => void) | undefined;

  constructor(private readonly outcomes: WorkflowOutcome[], private readonly duringRead?: (store: FakeStore) => void) {}

  async outcome(): Promise<WorkflowOutcome> {
    this.reads += 1;
    const next = this.outcomes.length > 1 ? this.outcomes.shift()! : this.outcomes[0]!;
    this.duringRead?.(this);
    await new Promise((resolve) => setImmediate(resolve));
    return next;
  }

  async subscribe(listener: (event: StoreEvent) => void): Promise<() => void> {
    this.listener = listener;
    return () => (this.listener = undefined);
  }

  emit(event: StoreEvent): void {
    this.listener?.(event);
  }
}

const RUNNING: WorkflowOutcome = { state: 'running', failures: [] };
/** No test waits for the poll: a poll this long would time the test out. */
const POLL_MS = 60_000;

function handleOn(store: FakeStore, watch = new SettleWatch(store as unknown as Store, POLL_MS), id = 'wf-1'): WorkflowHandle<unknown> {
  const kernel = { store: store as unknown as Store } as Kernel;
  const host: HandleHost = { kernel, watch, connect: async () => undefined, epoch: () => null };
  return new WorkflowHandle(id, host);
}

/** A watch whose subscription is live (what the first result() of an app does). */
async function liveWatch(store: FakeStore): Promise<SettleWatch> {
  const watch = new SettleWatch(store as unknown as Store, POLL_MS);
  (await watch.arm('warm-up')).cancel();
  return watch;
}

/** Emits once the handle is waiting (after its first read). */
async function emitWhenWaiting(store: FakeStore, event: StoreEvent): Promise<void> {
  while (store.reads === 0) await new Promise((resolve) => setImmediate(resolve));
  for (let i = 0; i < 5; i += 1) await new Promise((resolve) => setImmediate(resolve));
  store.emit(event);
}

describe('settle watch', () => {
  test('result() takes the result from the notification, without a second read', async () => {
    const store = new FakeStore([RUNNING]);
    const handle = handleOn(store);
    const result = handle.result();
    await emitWhenWaiting(store, { type: 'settled', workflowId: 'wf-1', state: 'succeeded', result: '{"n":[1,2]}' });
    assert.deepEqual(await result, { n: [1, 2] });
    assert.equal(store.reads, 1);
  });

  test('result() reads the store when the notification has no result', async () => {
    const store = new FakeStore([RUNNING, { state: 'succeeded', result: 'big', failures: [] }]);
    const handle = handleOn(store);
    const result = handle.result();
    await emitWhenWaiting(store, { type: 'settled', workflowId: 'wf-1', state: 'succeeded' });
    assert.equal(await result, 'big');
    assert.equal(store.reads, 2);
  });

  test('result() reads the failures of a failed workflow from the store', async () => {
    const error = { name: 'Error', message: 'boom' };
    const store = new FakeStore([RUNNING, { state: 'failed', failures: [{ nodeId: 'n0', task: 't', error }] }]);
    const handle = handleOn(store);
    const result = handle.result();
    await emitWhenWaiting(store, { type: 'settled', workflowId: 'wf-1', state: 'failed' });
    await assert.rejects(result, (e: unknown) => e instanceof WorkflowFailedError && e.failures[0]?.nodeId === 'n0');
    assert.equal(store.reads, 2);
  });

  test('a notified result that fails the JSON checks is read from the store instead', async () => {
    const store = new FakeStore([RUNNING, { state: 'succeeded', result: { ok: true }, failures: [] }]);
    const handle = handleOn(store);
    const result = handle.result();
    await emitWhenWaiting(store, { type: 'settled', workflowId: 'wf-1', state: 'succeeded', result: '{"__proto__":{"x":1}}' });
    assert.deepEqual(await result, { ok: true });
    assert.equal(store.reads, 2);
  });

  test('a notification that lands during the first read is heard (armed before the read)', async () => {
    const store = new FakeStore([RUNNING], (s) => s.emit({ type: 'settled', workflowId: 'wf-1', state: 'succeeded', result: '7' }));
    assert.equal(await handleOn(store).result(), 7);
    assert.equal(store.reads, 1);
  });

  test('settled() returns the notified outcome; other workflows\' notifications are ignored', async () => {
    const store = new FakeStore([RUNNING]);
    const handle = handleOn(store);
    const outcome = handle.settled();
    await emitWhenWaiting(store, { type: 'settled', workflowId: 'wf-2', state: 'succeeded', result: '1' });
    await emitWhenWaiting(store, { type: 'settled', workflowId: 'wf-1', state: 'succeeded', result: '"done"' });
    assert.deepEqual(await outcome, { state: 'succeeded', result: 'done', failures: [] });
    assert.equal(store.reads, 1);
  });

  test('a workflow started while the subscription is live: its first wait reads nothing, before or after the notification', async () => {
    const store = new FakeStore([RUNNING]);
    const watch = await liveWatch(store);
    watch.expect('early');
    watch.expect('late');
    store.emit({ type: 'settled', workflowId: 'early', state: 'succeeded', result: '1' });
    assert.equal(await handleOn(store, watch, 'early').result(), 1);
    const late = handleOn(store, watch, 'late').result();
    for (let i = 0; i < 5; i += 1) await new Promise((resolve) => setImmediate(resolve));
    store.emit({ type: 'settled', workflowId: 'late', state: 'succeeded', result: '2' });
    assert.equal(await late, 2);
    assert.equal(store.reads, 0);
    // Taken once: another handle of the same workflow reads the store.
    assert.equal(watch.heard('early'), undefined);
  });

  test('an expected workflow that failed, or whose result was too long to keep, is read back', async () => {
    const store = new FakeStore([{ state: 'failed', failures: [{ nodeId: 'n0', task: 't', error: { name: 'Error', message: 'no' } }] }]);
    const watch = await liveWatch(store);
    watch.expect('wf-1');
    store.emit({ type: 'settled', workflowId: 'wf-1', state: 'failed' });
    await assert.rejects(handleOn(store, watch).result(), WorkflowFailedError);
    assert.equal(store.reads, 1);
    watch.expect('big');
    store.emit({ type: 'settled', workflowId: 'big', state: 'succeeded', result: JSON.stringify('x'.repeat(5_000)) });
    assert.deepEqual(watch.heard('big'), { type: 'settled', workflowId: 'big', state: 'succeeded' });
  });

  test('expectations need a live subscription and are bounded, oldest dropped', async () => {
    const store = new FakeStore([RUNNING]);
    const cold = new SettleWatch(store as unknown as Store, POLL_MS);
    cold.expect('wf-1');
    assert.equal(cold.heard('wf-1'), undefined);
    const watch = await liveWatch(store);
    for (let i = 0; i <= MAX_EXPECTED; i += 1) watch.expect(`w${i}`);
    assert.equal(watch.heard('w0'), undefined);
    assert.equal(watch.heard('w1'), 'pending');
    assert.equal(watch.heard(`w${MAX_EXPECTED}`), 'pending');
  });

  test('eventOutcome tells only a succeeded workflow with a parsable result', () => {
    assert.equal(eventOutcome(undefined), undefined);
    assert.equal(eventOutcome({ type: 'settled', workflowId: 'w', state: 'canceled' }), undefined);
    assert.equal(eventOutcome({ type: 'settled', workflowId: 'w', state: 'failed', result: '1' }), undefined);
    assert.equal(eventOutcome({ type: 'settled', workflowId: 'w', state: 'succeeded', result: '{' }), undefined);
    assert.deepEqual(eventOutcome({ type: 'settled', workflowId: 'w', state: 'succeeded', result: 'null' }), { state: 'succeeded', result: null, failures: [] });
  });
});
