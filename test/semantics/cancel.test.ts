/**
 * API.md `app.cancel(id)`: queued nodes never run; running nodes see `ctx.signal` aborted; `result()` rejects
 * with WorkflowCanceledError; the workflow settles `canceled` and every open node is `canceled`.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { CanceledError, chain, group, WorkflowCanceledError, WorkflowStateError } from '../../src/index.js';
import { deferred, forEachMode } from '../support/modes.js';

function aborted(signal: AbortSignal): Promise<unknown> {
  if (signal.aborted) return Promise.resolve(signal.reason);
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(signal.reason), { once: true }));
}

forEachMode((mode) => {
  it('a running node sees ctx.signal aborted, queued and pending nodes never run, result() rejects', async () => {
    const t = await mode.create();
    const entered = deferred();
    const sawAbort = deferred<unknown>();
    const ran: string[] = [];
    const held = t.app.task('held', async (ctx) => {
      ran.push('held');
      entered.resolve();
      sawAbort.resolve(await aborted(ctx.signal));
      return 'finished anyway';
    });
    const other = t.app.task('other', (_ctx, name: string) => {
      ran.push(name);
      return name;
    });
    const canvas = chain(group(held.s(), other.s('queued').set({ countdownMs: 600_000 })), other.si('pending'));
    const started = t.start(canvas, { workflowId: 'to-cancel' });
    await entered.promise;
    const wf = t.app.workflow('to-cancel');
    const before = await wf.status();
    assert.deepEqual(before.nodes.map((n) => [n.id, n.state]), [['n0', 'running'], ['n1', 'queued'], ['n2', 'pending']]);

    await t.app.cancel('to-cancel');
    const reason = await sawAbort.promise;
    assert.ok(reason instanceof CanceledError, `signal reason ${String(reason)}`);
    await started;
    const error = await wf.result().then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof WorkflowCanceledError);
    assert.equal(error.workflowId, 'to-cancel');

    const snap = await wf.status();
    assert.equal(snap.state, 'canceled');
    assert.equal(typeof snap.settledAt, 'number');
    assert.equal(snap.result, undefined);
    assert.deepEqual(snap.nodes.map((n) => [n.id, n.state]), [['n0', 'canceled'], ['n1', 'canceled'], ['n2', 'canceled']]);
    assert.deepEqual(ran, ['held']);
    // The handler returned after the cancel: its result was never stored.
    assert.equal(t.probe.of('complete').length, 0);
    assert.equal(snap.nodes[0]!.result, undefined);
  });

  it('succeeded nodes keep their state and result when the workflow is canceled', async () => {
    const t = await mode.create();
    const entered = deferred();
    const release = deferred();
    const quick = t.app.task('quick', () => 'kept');
    const held = t.app.task('held', async (_ctx, x: string) => {
      entered.resolve();
      await release.promise;
      return x;
    });
    const started = t.start(chain(quick.s(), held.s()), { workflowId: 'partly-done' });
    await entered.promise;
    await t.app.cancel('partly-done');
    release.resolve();
    const wf = await started;
    await assert.rejects(wf.result(), WorkflowCanceledError);
    const snap = await wf.status();
    assert.deepEqual(snap.nodes.map((n) => [n.state, n.result]), [['succeeded', 'kept'], ['canceled', undefined]]);
  });

  it('a node waiting for its retry delay is canceled and never runs again', async () => {
    const t = await mode.create();
    const attempts: number[] = [];
    const later = t.app.task('later', (ctx): string => {
      attempts.push(ctx.attempt);
      return ctx.retry({ countdownMs: 600_000 });
    });
    const started = t.start(later.s(), { workflowId: 'retry-canceled' });
    await t.probe.when('n0', 'retry');
    await t.app.cancel('retry-canceled');
    const wf = await started;
    await assert.rejects(wf.result(), WorkflowCanceledError);
    assert.deepEqual(attempts, [1]);
    assert.equal((await wf.status()).nodes[0]!.state, 'canceled');
  });

  it('cancel of a settled workflow changes nothing; of an unknown one rejects with WorkflowStateError', async () => {
    const t = await mode.create();
    const done = t.app.task('done', () => 'ok');
    const wf = await t.start(done.s());
    assert.equal(await wf.result(), 'ok');
    await t.app.cancel(wf.id);
    assert.equal((await wf.status()).state, 'succeeded');
    assert.equal(await wf.result(), 'ok');
    await assert.rejects(t.app.cancel('no-such-workflow'), WorkflowStateError);
  });

  it('the worker keeps running other workflows after a cancel', async () => {
    const t = await mode.create();
    const entered = deferred();
    const held = t.app.task('held', async (ctx) => {
      entered.resolve();
      await aborted(ctx.signal);
      return 'x';
    });
    const add = t.app.task('add', (_ctx, a: number, b: number) => a + b);
    const started = t.start(held.s(), { workflowId: 'canceled-one' });
    await entered.promise;
    await t.app.cancel('canceled-one');
    await started;
    assert.equal(await (await t.start(add.s(2, 2))).result(), 4);
  });
});
