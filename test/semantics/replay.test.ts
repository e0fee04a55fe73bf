/**
 * API.md `app.replay(id, { nodes? })`: re-runs failed, blocked and canceled nodes (or the given ones and
 * everything downstream of them); succeeded results are kept and not re-run; replay of a workflow that is
 * still running, or has succeeded, rejects with WorkflowStateError.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { chain, group, WorkflowCanceledError, WorkflowFailedError, WorkflowStateError, type ErrbackInfo } from '../../src/index.js';
import { deferred, forEachMode, type TestEnv } from '../support/modes.js';

async function failure(promise: Promise<unknown>): Promise<WorkflowFailedError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof WorkflowFailedError, `expected WorkflowFailedError, got ${String(error)}`);
  return error;
}

/** Tasks that count their invocations; `broken` makes `fragile` throw until the test "fixes" it. */
function counted(t: TestEnv) {
  const runs = new Map<string, number>();
  const state: { broken: boolean; fans?: number } = { broken: true };
  const bump = (key: string): void => void runs.set(key, (runs.get(key) ?? 0) + 1);
  const start = t.app.task('start', () => {
    bump('start');
    return 1;
  });
  const step = t.app.task('step', (_ctx, x: number, label: string) => {
    bump(label);
    return x + 1;
  });
  const fragile = t.app.task('fragile', (_ctx, x: number) => {
    bump('fragile');
    if (state.broken) throw new Error('not fixed yet');
    return x * 100;
  });
  const total = t.app.task('total', (_ctx, xs: number[]) => {
    bump('total');
    return xs.reduce((s, x) => s + x, 0);
  });
  return { runs: (): Record<string, number> => Object.fromEntries([...runs].sort()), state, start, step, fragile, total };
}

forEachMode((mode) => {
  it('after the task is fixed, replay re-runs only failed and blocked nodes; succeeded ones are not re-run', async () => {
    const t = await mode.create();
    const { runs, state, start, step, fragile, total } = counted(t);
    const canvas = chain(start.s(), group(step.s('left'), fragile.s(), step.s('right')), total.s());
    const wf = await t.start(canvas);
    await failure(wf.result());
    assert.deepEqual(runs(), { fragile: 1, left: 1, right: 1, start: 1 });
    assert.deepEqual((await wf.status()).nodes.map((n) => n.state), ['succeeded', 'succeeded', 'failed', 'succeeded', 'blocked']);

    state.broken = false;
    const replayed = await t.app.replay(wf.id);
    assert.equal(replayed.id, wf.id);
    assert.equal(await wf.result(), 2 + 100 + 2);
    assert.deepEqual(runs(), { fragile: 2, left: 1, right: 1, start: 1, total: 1 });
    const snap = await wf.status();
    assert.equal(snap.state, 'succeeded');
    assert.equal(snap.result, 104);
    assert.deepEqual(snap.nodes.map((n) => [n.state, n.result]), [['succeeded', 1], ['succeeded', 2], ['succeeded', 100], ['succeeded', 2], ['succeeded', 104]]);
    assert.equal(snap.nodes[2]!.error, undefined);
  });

  it('a replayed node starts again at attempt 1 with its retries', async () => {
    const t = await mode.create();
    const attempts: number[] = [];
    let fixed = false;
    const flaky = t.app.task('flaky', (ctx) => {
      attempts.push(ctx.attempt);
      if (!fixed || ctx.attempt < 2) throw new TypeError('flaky');
      return ctx.attempt;
    }, { autoretryFor: [TypeError], maxRetries: 1 });
    const wf = await t.start(flaky.s());
    await failure(wf.result());
    fixed = true;
    await t.app.replay(wf.id);
    assert.equal(await wf.result(), 2);
    assert.deepEqual(attempts, [1, 2, 1, 2]);
  });

  it('replay({ nodes }) re-runs those nodes and everything downstream of them', async () => {
    const t = await mode.create();
    const { runs, state, start, step, fragile } = counted(t);
    const wf = await t.start(chain(start.s(), step.s('b'), step.s('c'), fragile.s()));
    await failure(wf.result());
    assert.deepEqual(runs(), { b: 1, c: 1, fragile: 1, start: 1 });
    state.broken = false;
    await t.app.replay(wf.id, { nodes: ['n1'] });
    assert.equal(await wf.result(), 300);
    assert.deepEqual(runs(), { b: 2, c: 2, fragile: 2, start: 1 });
  });

  it('replay of a succeeded workflow rejects with WorkflowStateError', async () => {
    const t = await mode.create();
    const { start } = counted(t);
    const wf = await t.start(start.s());
    assert.equal(await wf.result(), 1);
    await assert.rejects(t.app.replay(wf.id), WorkflowStateError);
    await assert.rejects(t.app.replay(wf.id, { nodes: ['n0'] }), WorkflowStateError);
  });

  it('replay of a running workflow rejects with WorkflowStateError', async () => {
    const t = await mode.create();
    const gate = deferred();
    const entered = deferred();
    const held = t.app.task('held', async () => {
      entered.resolve();
      await gate.promise;
      return 'released';
    });
    const started = t.start(held.s(), { workflowId: 'still-running' });
    await entered.promise;
    const error = await t.app.replay('still-running').then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof WorkflowStateError);
    assert.equal(error.workflowId, 'still-running');
    gate.resolve();
    assert.equal(await (await started).result(), 'released');
  });

  it('replay of an unknown workflow or unknown nodes rejects with WorkflowStateError', async () => {
    const t = await mode.create();
    const { fragile } = counted(t);
    await assert.rejects(t.app.replay('no-such-workflow'), WorkflowStateError);
    const wf = await t.start(fragile.s(1));
    await failure(wf.result());
    await assert.rejects(t.app.replay(wf.id, { nodes: ['n9'] }), WorkflowStateError);
  });

  it('a canceled workflow can be replayed: canceled nodes run again', async () => {
    const t = await mode.create();
    const gate = deferred();
    const entered = deferred();
    const runs: string[] = [];
    const held = t.app.task('held', async (ctx) => {
      runs.push(`held ${ctx.attempt}`);
      entered.resolve();
      await gate.promise;
      return 'held done';
    });
    const next = t.app.task('next', (_ctx, x: string) => {
      runs.push('next');
      return `${x}, next done`;
    });
    const started = t.start(chain(held.s(), next.s()), { workflowId: 'cancel-then-replay' });
    await entered.promise;
    await t.app.cancel('cancel-then-replay');
    const wf = await started;
    await assert.rejects(wf.result(), WorkflowCanceledError);
    gate.resolve();
    await t.app.replay(wf.id);
    assert.equal(await wf.result(), 'held done, next done');
    assert.deepEqual(runs, ['held 1', 'held 1', 'next']);
  });

  it('an errback runs once per run: again when the replay fails again', async () => {
    const t = await mode.create();
    const { fragile } = counted(t);
    const reports: string[] = [];
    const report = t.app.task('report', (_ctx, info: ErrbackInfo) => {
      reports.push(info.nodeId);
      return null;
    });
    const wf = await t.start(fragile.s(1).onError(report.s()));
    await failure(wf.result());
    assert.deepEqual(reports, ['n0']);
    await t.app.replay(wf.id);
    await failure(wf.result());
    assert.deepEqual(reports, ['n0', 'n0']);
  });

  it('replay after a failed replacement re-runs only the failed child', async () => {
    const t = await mode.create();
    const { runs, state, step, fragile, total } = counted(t);
    const fan = t.app.task('fan', (ctx, n: number): number[] => {
      state.fans = (state.fans ?? 0) + 1;
      return ctx.replace(group(step.s(n, 'child'), fragile.s(n)));
    });
    const wf = await t.start(chain(fan.s(1), total.s()));
    await failure(wf.result());
    state.broken = false;
    await t.app.replay(wf.id);
    assert.equal(await wf.result(), 2 + 100);
    assert.deepEqual(runs(), { child: 1, fragile: 2, total: 1 });
    assert.equal(state.fans, 1);
    const snap = await wf.status();
    assert.deepEqual(snap.nodes.map((n) => [n.id, n.state]), [['n0', 'succeeded'], ['n1', 'succeeded'], ['n0.0', 'succeeded'], ['n0.1', 'succeeded']]);
  });

  it('replay feeds downstream nodes even from an ignoreResult parent whose result was dropped', async () => {
    const t = await mode.create();
    const { state, fragile } = counted(t);
    const secret = t.app.task('secret', () => 7, { ignoreResult: true });
    const wf = await t.start(chain(secret.s(), fragile.s()));
    await failure(wf.result());
    state.broken = false;
    await t.app.replay(wf.id);
    assert.equal(await wf.result(), 700);
    assert.equal((await wf.status()).nodes[0]!.result, undefined);
  });
});
