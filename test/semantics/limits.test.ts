/**
 * API.md TaskOptions (time limits, countdown, priority): `softTimeLimitMs` aborts `ctx.signal` with
 * SoftTimeLimitExceeded and the handler may recover; `timeLimitMs` fails the attempt with TimeLimitExceeded
 * whatever the handler does, and a result the handler returns afterwards is fenced off; `countdownMs` delays
 * the start once the node is ready (checked on the store's own timestamps, never a wall-clock threshold);
 * `priority` orders queued nodes on one worker of concurrency 1.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { chain, group, SoftTimeLimitExceeded, TimeLimitExceeded, WorkflowFailedError } from '../../src/index.js';
import { deferred, forEachMode } from '../support/modes.js';

/** Resolves with the signal's reason once it aborts (the abort is the event; no timer). */
function aborted(signal: AbortSignal): Promise<unknown> {
  if (signal.aborted) return Promise.resolve(signal.reason);
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(signal.reason), { once: true }));
}

async function failure(promise: Promise<unknown>): Promise<WorkflowFailedError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof WorkflowFailedError, `expected WorkflowFailedError, got ${String(error)}`);
  return error;
}

forEachMode((mode) => {
  it('softTimeLimitMs aborts ctx.signal with SoftTimeLimitExceeded and the handler may recover', async () => {
    const t = await mode.create();
    const task = t.app.task('soft', async (ctx) => {
      const reason = await aborted(ctx.signal);
      return { recovered: reason instanceof SoftTimeLimitExceeded, name: (reason as Error).name };
    }, { softTimeLimitMs: 5 });
    const wf = await t.start(task.s());
    assert.deepEqual(await wf.result(), { recovered: true, name: 'SoftTimeLimitExceeded' });
    const node = (await wf.status()).nodes[0]!;
    assert.deepEqual([node.state, node.attempts], ['succeeded', 1]);
  });

  it('a handler that rethrows the soft limit fails with SoftTimeLimitExceeded', async () => {
    const t = await mode.create();
    const task = t.app.task('soft', async (ctx): Promise<string> => {
      throw await aborted(ctx.signal);
    }, { softTimeLimitMs: 5 });
    const error = await failure((await t.start(task.s())).result());
    assert.equal(error.failures[0]!.error.name, 'SoftTimeLimitExceeded');
  });

  it('timeLimitMs fails the attempt with TimeLimitExceeded whatever the handler does; its late result is fenced off', async () => {
    const t = await mode.create();
    const gate = deferred();
    const returned = deferred<string>();
    let signalReason: unknown;
    const stubborn = t.app.task('stubborn', async (ctx) => {
      // Ignores the abort and keeps going, then returns a result nobody may store.
      signalReason = await aborted(ctx.signal);
      await gate.promise;
      returned.resolve('late');
      return 'late';
    }, { timeLimitMs: 5 });
    const after = t.app.task('after', (_ctx, x: string) => x);
    const started = t.start(chain(stubborn.s(), after.s()), { workflowId: 'hard-limit' });
    await t.probe.when('n0', 'fail');
    gate.resolve();
    assert.equal(await returned.promise, 'late');
    const wf = await started;
    const error = await failure(wf.result());
    assert.deepEqual(error.failures.map((f) => [f.nodeId, f.error.name]), [['n0', 'TimeLimitExceeded']]);
    assert.ok(signalReason instanceof TimeLimitExceeded);
    const snap = await wf.status();
    assert.deepEqual(snap.nodes.map((n) => [n.state, n.result]), [['failed', undefined], ['blocked', undefined]]);
    assert.equal(t.probe.of('complete').length, 0);
  });

  it('timeLimitMs also ends a handler that recovers from the soft limit and never returns', async () => {
    const t = await mode.create();
    const never = deferred<string>();
    let softSeen = false;
    const task = t.app.task('both', async (ctx) => {
      softSeen = (await aborted(ctx.signal)) instanceof SoftTimeLimitExceeded;
      return never.promise;
    }, { softTimeLimitMs: 2, timeLimitMs: 10 });
    const error = await failure((await t.start(task.s())).result());
    assert.equal(error.failures[0]!.error.name, 'TimeLimitExceeded');
    assert.ok(softSeen);
    never.resolve('too late');
  });

  it('a retry after a hard time limit gets a fresh attempt', async () => {
    const t = await mode.create();
    const attempts: number[] = [];
    const task = t.app.task('slowThenFast', async (ctx) => {
      attempts.push(ctx.attempt);
      if (ctx.attempt === 1) await new Promise<never>(() => undefined);
      return ctx.attempt;
    }, { timeLimitMs: 5, autoretryFor: [TimeLimitExceeded] });
    assert.equal(await (await t.start(task.s())).result(), 2);
    assert.deepEqual(attempts, [1, 2]);
  });

  it('countdownMs delays a node once it is ready (store timestamps)', async () => {
    const t = await mode.create();
    const first = t.app.task('first', () => 1);
    const later = t.app.task('later', (_ctx, x: number) => x + 1, { countdownMs: 30 });
    const wf = await t.start(chain(first.s(), later.s()));
    assert.equal(await wf.result(), 2);
    const [a, b] = (await wf.status()).nodes;
    assert.ok(b!.startedAt! - a!.finishedAt! >= 30, `started ${b!.startedAt! - a!.finishedAt!} ms after its parent finished`);
  });

  it('countdownMs on a first node delays it from the workflow\'s creation; set() overrides it', async () => {
    const t = await mode.create();
    const task = t.app.task('waits', (_ctx, x: number) => x);
    const wf = await t.start(group(task.s(1).set({ countdownMs: 25 }), task.s(2)));
    assert.deepEqual(await wf.result(), [1, 2]);
    const snap = await wf.status();
    assert.ok(snap.nodes[0]!.startedAt! - snap.createdAt >= 25);
    assert.ok(snap.nodes[0]!.startedAt! >= snap.nodes[1]!.startedAt!);
  });
});

forEachMode((mode) => {
  it('priority: higher runs first on one worker with concurrency 1', async () => {
    const t = await mode.create({ worker: { concurrency: 1 } });
    const gate = deferred();
    const entered = deferred();
    const order: number[] = [];
    const blocker = t.app.task('blocker', async () => {
      entered.resolve();
      await gate.promise;
      return 'unblocked';
    });
    const job = t.app.task('job', (_ctx, p: number) => {
      order.push(p);
      return p;
    });
    const blocked = await t.start(blocker.s());
    await entered.promise;
    // The only slot is taken: these wait in the queue, published in this order.
    const priorities = [1, 5, 9, 0, 7, 3];
    const handles = [];
    for (const p of priorities) handles.push(await t.start(job.s(p).set({ priority: p })));
    gate.resolve();
    assert.equal(await blocked.result(), 'unblocked');
    for (const h of handles) await h.result();
    assert.deepEqual(order, [9, 7, 5, 3, 1, 0]);
  });
}, { when: (mode) => mode.ownWorker && mode.priorities });
