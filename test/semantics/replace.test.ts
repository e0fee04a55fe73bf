/**
 * API.md `ctx.replace(canvas)`: the node's result becomes the result of `canvas`, started in its place — how a
 * task fans out to a number of children known only at run time. A failing replacement fails the node and
 * blocks what is downstream; nodes added by a replacement come after the canvas's own in status().
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { chain, group, WorkflowFailedError, type AnyCanvas, type ErrbackInfo } from '../../src/index.js';
import { forEachMode, type TestEnv } from '../support/modes.js';

async function failure(promise: Promise<unknown>): Promise<WorkflowFailedError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof WorkflowFailedError, `expected WorkflowFailedError, got ${String(error)}`);
  return error;
}

function fanOut(t: TestEnv) {
  const ran: string[] = [];
  const square = t.app.task('square', (_ctx, x: number) => {
    ran.push(`square ${x}`);
    return x * x;
  });
  const fan = t.app.task('fan', (ctx, n: number): number[] => {
    ran.push(`fan ${n}`);
    return ctx.replace(group(Array.from({ length: n }, (_, i) => square.s(i + 1))));
  });
  const sum = t.app.task('sum', (_ctx, xs: number[]) => {
    ran.push('sum');
    return xs.reduce((s, x) => s + x, 0);
  });
  return { ran, square, fan, sum };
}

forEachMode((mode) => {
  it('fans out to N children known at run time; the node\'s result is the replacement\'s', async () => {
    const t = await mode.create();
    const { fan, sum, ran } = fanOut(t);
    const wf = await t.start(chain(fan.s(4), sum.s()));
    assert.equal(await wf.result(), 1 + 4 + 9 + 16);
    assert.deepEqual(ran.filter((r) => r.startsWith('square')).sort(), ['square 1', 'square 2', 'square 3', 'square 4']);
    const snap = await wf.status();
    assert.deepEqual(snap.nodes[0]!.result, [1, 4, 9, 16]);
    assert.equal(snap.nodes[0]!.state, 'succeeded');
    assert.equal(snap.nodes[0]!.attempts, 1);
  });

  it('nodes added by ctx.replace come after the canvas\'s own nodes in status()', async () => {
    const t = await mode.create();
    const { fan, sum } = fanOut(t);
    const wf = await t.start(chain(fan.s(2), sum.s()));
    await wf.result();
    const snap = await wf.status();
    assert.deepEqual(snap.nodes.map((n) => [n.id, n.task, n.state, n.replacing]), [
      ['n0', 'fan', 'succeeded', undefined],
      ['n1', 'sum', 'succeeded', undefined],
      ['n0.0', 'square', 'succeeded', 'n0'],
      ['n0.1', 'square', 'succeeded', 'n0'],
    ]);
  });

  it('a replacement may be a chain (its last result) or an empty group ([])', async () => {
    const t = await mode.create();
    const add = t.app.task('add', (_ctx, a: number, b: number) => a + b);
    const viaChain = t.app.task('viaChain', (ctx): number => ctx.replace(chain(add.s(1, 2), add.s(10))));
    const viaEmpty = t.app.task('viaEmpty', (ctx): unknown[] => ctx.replace(group()));
    const count = t.app.task('count', (_ctx, xs: unknown[]) => ({ length: xs.length, isArray: Array.isArray(xs) }));
    assert.equal(await (await t.start(viaChain.s())).result(), 13);
    const empty = await t.start(chain(viaEmpty.s(), count.s()));
    assert.deepEqual(await empty.result(), { length: 0, isArray: true });
    assert.deepEqual((await empty.status()).nodes[0]!.result, []);
  });

  it('replacements can replace themselves again (generations)', async () => {
    const t = await mode.create();
    const countdown = t.app.task('countdown', (ctx, n: number): string => (n === 0 ? 'liftoff' : ctx.replace(countdown.s(n - 1))));
    const wf = await t.start(countdown.s(3));
    assert.equal(await wf.result(), 'liftoff');
    const snap = await wf.status();
    assert.deepEqual(snap.nodes.map((n) => [n.id, n.replacing]), [['n0', undefined], ['n0.0', 'n0'], ['n0.0.0', 'n0.0'], ['n0.0.0.0', 'n0.0.0']]);
    assert.deepEqual(snap.nodes.map((n) => n.result), ['liftoff', 'liftoff', 'liftoff', 'liftoff']);
  });

  it('a failing replacement fails the node and blocks downstream', async () => {
    const t = await mode.create();
    const ran: string[] = [];
    const ok = t.app.task('ok', (_ctx, x: number) => x);
    const boom = t.app.task('boom', (): number => {
      throw new Error('child failed');
    });
    const fan = t.app.task('fan', (ctx): number[] => ctx.replace(group(ok.s(1), boom.s(), ok.s(3))));
    const after = t.app.task('after', (_ctx, xs: number[]) => {
      ran.push('after');
      return xs;
    });
    const wf = await t.start(chain(fan.s(), after.s()));
    const error = await failure(wf.result());
    assert.deepEqual(ran, []);
    assert.ok(error.failures.some((f) => f.nodeId === 'n0.1' && f.error.message === 'child failed'));
    const snap = await wf.status();
    const byId = Object.fromEntries(snap.nodes.map((n) => [n.id, n.state]));
    assert.deepEqual(byId, { n0: 'failed', n1: 'blocked', 'n0.0': 'succeeded', 'n0.1': 'failed', 'n0.2': 'succeeded' });
    assert.equal(snap.nodes[0]!.error?.message, 'child failed');
  });

  it('an errback on the replaced node runs once when its replacement fails', async () => {
    const t = await mode.create();
    const calls: ErrbackInfo[] = [];
    const boom = t.app.task('boom', (): number => {
      throw new Error('child failed');
    });
    const fan = t.app.task('fan', (ctx): number[] => ctx.replace(group(boom.s(), boom.s())));
    const report = t.app.task('report', (_ctx, info: ErrbackInfo) => {
      calls.push(info);
      return null;
    });
    const wf = await t.start(fan.s().onError(report.s()));
    await failure(wf.result());
    assert.equal(calls.length, 1);
    assert.ok(['n0.0', 'n0.1'].includes(calls[0]!.nodeId));
    assert.equal(calls[0]!.task, 'boom');
  });

  it('ctx.replace with something that is not a canvas fails the node with CanvasError', async () => {
    const t = await mode.create();
    const bad = t.app.task('bad', (ctx): number => ctx.replace({ task: 'forged' } as unknown as AnyCanvas));
    const error = await failure((await t.start(bad.s())).result());
    assert.equal(error.failures[0]!.error.name, 'CanvasError');
  });

  it('a replacement inside a group keeps the group\'s declaration order', async () => {
    const t = await mode.create();
    const { fan, square } = fanOut(t);
    const wf = await t.start(group(square.s(5), fan.s(3), square.s(6)));
    assert.deepEqual(await wf.result(), [25, [1, 4, 9], 36]);
  });
});
