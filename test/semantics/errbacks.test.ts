/**
 * API.md `x.onError(errback)`: on a signature or any canvas, the errback runs ONCE when any node inside `x`
 * fails for good, with `{ workflowId, nodeId, task, error: { name, message, stack } }` prepended to its own
 * args; an immutable errback gets no prefix. It does not run for failures outside `x`.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { chain, chord, group, WorkflowFailedError, type ErrbackInfo, type JsonValue } from '../../src/index.js';
import { forEachMode, type TestEnv } from '../support/modes.js';

function setup(t: TestEnv) {
  const errbackCalls: unknown[][] = [];
  const ran: string[] = [];
  const ok = t.app.task('ok', (_ctx, name: string) => {
    ran.push(name);
    return name;
  });
  const boom = t.app.task('boom', (_ctx, name: string): string => {
    ran.push(name);
    throw new RangeError(`${name} broke`);
  });
  const handler = t.app.task('handler', (_ctx, info: ErrbackInfo, label: string) => {
    errbackCalls.push([info, label]);
    return null;
  });
  const plain = t.app.task('plain', (_ctx, label: string) => {
    errbackCalls.push([label]);
    return null;
  });
  return { errbackCalls, ran, ok, boom, handler, plain };
}

async function failure(promise: Promise<unknown>): Promise<WorkflowFailedError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof WorkflowFailedError, `expected WorkflowFailedError, got ${String(error)}`);
  return error;
}

forEachMode((mode) => {
  it('runs once with the failure info prepended, even when two nodes inside fail', async () => {
    const t = await mode.create();
    const { errbackCalls, ok, boom, handler } = setup(t);
    const wf = await t.start(group(boom.s('x'), ok.s('y'), boom.s('z')).onError(handler.s('label')));
    const error = await failure(wf.result());
    assert.deepEqual(error.failures.map((f) => f.nodeId), ['n0', 'n2']);
    assert.equal(errbackCalls.length, 1);
    const [info, label] = errbackCalls[0] as [ErrbackInfo, string];
    assert.equal(label, 'label');
    assert.deepEqual(Object.keys(info).sort(), ['error', 'nodeId', 'task', 'workflowId']);
    assert.equal(info.workflowId, wf.id);
    assert.equal(info.task, 'boom');
    assert.ok(info.nodeId === 'n0' || info.nodeId === 'n2');
    assert.equal(info.error.name, 'RangeError');
    assert.equal(info.error.message, `${info.nodeId === 'n0' ? 'x' : 'z'} broke`);
    assert.equal(typeof info.error.stack, 'string');
    const snap = await wf.status();
    const errbackNodes = snap.nodes.filter((n) => n.kind === 'errback');
    assert.equal(errbackNodes.length, 1);
    assert.equal(errbackNodes[0]!.task, 'handler');
    assert.equal(errbackNodes[0]!.state, 'succeeded');
    // Errback nodes come after the canvas's own nodes.
    assert.deepEqual(snap.nodes.map((n) => n.kind), ['task', 'task', 'task', 'errback']);
  });

  it('an immutable errback gets no prefix', async () => {
    const t = await mode.create();
    const { errbackCalls, boom, plain } = setup(t);
    const wf = await t.start(boom.s('x').onError(plain.si('just this')));
    await failure(wf.result());
    assert.deepEqual(errbackCalls, [['just this']]);
  });

  it('onError on a signature fires for that signature only', async () => {
    const t = await mode.create();
    const { errbackCalls, ok, boom, handler } = setup(t);
    const wf = await t.start(group(ok.s('a').onError(handler.s('on ok')), boom.s('b').onError(handler.s('on boom'))));
    await failure(wf.result());
    assert.deepEqual(errbackCalls.map(([info, label]) => [(info as ErrbackInfo).nodeId, label]), [['n1', 'on boom']]);
  });

  it('onError on a chain fires for a failing step, once, and later steps stay blocked', async () => {
    const t = await mode.create();
    const { errbackCalls, ran, ok, boom, handler } = setup(t);
    const wf = await t.start(chain(ok.s('a'), boom.si('b'), ok.si('c')).onError(handler.s('chain')));
    await failure(wf.result());
    assert.deepEqual(ran, ['a', 'b']);
    assert.deepEqual(errbackCalls.map(([info, label]) => [(info as ErrbackInfo).nodeId, (info as ErrbackInfo).task, label]), [['n1', 'boom', 'chain']]);
    const snap = await wf.status();
    assert.deepEqual(snap.nodes.map((n) => [n.id, n.kind, n.state]), [
      ['n0', 'task', 'succeeded'], ['n1', 'task', 'failed'], ['n2', 'task', 'blocked'], ['e0', 'errback', 'succeeded'],
    ]);
  });

  it('onError on a chord fires for a header failure; the body never runs', async () => {
    const t = await mode.create();
    const { errbackCalls, ran, ok, boom, handler } = setup(t);
    const sink = t.app.task('sink', (_ctx, xs: string[]) => {
      ran.push('body');
      return xs.length;
    });
    const wf = await t.start(chord([ok.s('a'), boom.s('b')], sink.s()).onError(handler.s('chord')));
    await failure(wf.result());
    assert.ok(!ran.includes('body'));
    assert.deepEqual(errbackCalls.map(([info]) => (info as ErrbackInfo).nodeId), ['n1']);
  });

  it('onError on a chord fires for a body failure', async () => {
    const t = await mode.create();
    const { errbackCalls, ok, handler } = setup(t);
    const badBody = t.app.task('badBody', (_ctx, _xs: string[]): number => {
      throw new Error('body broke');
    });
    const wf = await t.start(chord([ok.s('a'), ok.s('b')], badBody.s()).onError(handler.s('chord')));
    await failure(wf.result());
    assert.deepEqual(errbackCalls.map(([info]) => [(info as ErrbackInfo).nodeId, (info as ErrbackInfo).error.message]), [['n2', 'body broke']]);
  });

  it('does not run for a failure outside the canvas it is attached to', async () => {
    const t = await mode.create();
    const { errbackCalls, ok, boom, handler } = setup(t);
    const wf = await t.start(chain(group(ok.s('a'), ok.s('b')).onError(handler.s('inner')), boom.si('c')));
    await failure(wf.result());
    assert.deepEqual(errbackCalls, []);
    const snap = await wf.status();
    assert.equal(snap.nodes.filter((n) => n.kind === 'errback').length, 0);
  });

  it('does not run when the canvas succeeds', async () => {
    const t = await mode.create();
    const { errbackCalls, ok, handler } = setup(t);
    const wf = await t.start(chain(ok.s('a'), ok.si('b')).onError(handler.s('never')));
    assert.equal(await wf.result(), 'b');
    assert.deepEqual(errbackCalls, []);
  });

  it('nested onErrors each run once for one failure', async () => {
    const t = await mode.create();
    const { errbackCalls, ok, boom, handler } = setup(t);
    const inner = group(ok.si('a'), boom.si('b')).onError(handler.s('inner'));
    const wf = await t.start(chain(ok.s('start'), inner.onError(handler.s('inner 2'))).onError(handler.s('outer')));
    await failure(wf.result());
    const labels = errbackCalls.map(([, label]) => label as JsonValue).sort();
    assert.deepEqual(labels, ['inner', 'inner 2', 'outer']);
    for (const [info] of errbackCalls) assert.equal((info as ErrbackInfo).nodeId, 'n2');
  });

  it('errback arguments of its own follow the prefix in order', async () => {
    const t = await mode.create();
    const seen: unknown[][] = [];
    const many = t.app.task('many', (_ctx, info: ErrbackInfo, a: number, b: { k: string }) => {
      seen.push([info.task, a, b]);
      return null;
    });
    const { boom } = setup(t);
    const wf = await t.start(boom.s('x').onError(many.s(1, { k: 'v' })));
    await failure(wf.result());
    assert.deepEqual(seen, [['boom', 1, { k: 'v' }]]);
  });
});
