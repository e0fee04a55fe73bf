/**
 * API.md "Canvases nest freely": `chain(a, group(b, chain(c, d)), chord([e, f], g))` runs as the semantics of
 * its parts compose, node ids follow declaration order, and a failure deep inside blocks exactly what is
 * downstream of it (checked against the reference evaluator too).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { chain, chord, group, WorkflowFailedError, type JsonValue, type TaskContext } from '../../src/index.js';
import { evaluateReference } from '../../src/canvas/reference.js';
import { forEachMode, type TestEnv } from '../support/modes.js';

function tasks(t: TestEnv, failing: ReadonlySet<string> = new Set()) {
  const calls: Array<{ task: string; args: unknown[] }> = [];
  const wrap = (name: string) => (_ctx: TaskContext, p: string) => {
    calls.push({ task: name, args: [p] });
    if (failing.has(name)) throw new Error(`${name} failed`);
    return `${name}(${p})`;
  };
  const list = (name: string) => (_ctx: TaskContext, xs: string[]) => {
    calls.push({ task: name, args: [xs] });
    if (failing.has(name)) throw new Error(`${name} failed`);
    return `${name}(${xs.join(',')})`;
  };
  return {
    calls,
    a: t.app.task('a', () => {
      calls.push({ task: 'a', args: [] });
      return 'A';
    }),
    b: t.app.task('b', wrap('b')),
    c: t.app.task('c', wrap('c')),
    d: t.app.task('d', wrap('d')),
    e: t.app.task('e', list('e')),
    f: t.app.task('f', list('f')),
    g: t.app.task('g', list('g')),
  };
}

forEachMode((mode) => {
  it('chain(a, group(b, chain(c, d)), chord([e, f], g)) composes the semantics of its parts', async () => {
    const t = await mode.create();
    const { a, b, c, d, e, f, g, calls } = tasks(t);
    const wf = await t.start(chain(a.s(), group(b.s(), chain(c.s(), d.s())), chord([e.s(), f.s()], g.s())));
    const header = ['b(A)', 'd(c(A))'];
    assert.equal(await wf.result(), `g(e(${header.join(',')}),f(${header.join(',')}))`);
    const byTask = Object.fromEntries(calls.map((call) => [call.task, call.args]));
    assert.deepEqual(byTask, {
      a: [], b: ['A'], c: ['A'], d: ['c(A)'], e: [header], f: [header], g: [[`e(${header.join(',')})`, `f(${header.join(',')})`]],
    });
    const snap = await wf.status();
    assert.deepEqual(snap.nodes.map((n) => [n.id, n.task, n.deps]), [
      ['n0', 'a', []],
      ['n1', 'b', ['n0']],
      ['n2', 'c', ['n0']],
      ['n3', 'd', ['n2']],
      ['n4', 'e', ['n1', 'n3']],
      ['n5', 'f', ['n1', 'n3']],
      ['n6', 'g', ['n4', 'n5']],
    ]);
  });

  it('a failure deep inside blocks exactly what is downstream, as the reference says', async () => {
    const t = await mode.create();
    const { a, b, c, d, e, f, g, calls } = tasks(t, new Set(['c']));
    const canvas = chain(a.s(), group(b.s(), chain(c.s(), d.s())), chord([e.s(), f.s()], g.s()));
    const wf = await t.start(canvas);
    const error = await wf.result().then(() => undefined, (err: unknown) => err);
    assert.ok(error instanceof WorkflowFailedError);
    assert.deepEqual(error.failures.map((x) => [x.nodeId, x.task, x.error.message]), [['n2', 'c', 'c failed']]);
    assert.deepEqual(calls.map((call) => call.task).sort(), ['a', 'b', 'c']);
    const reference = evaluateReference(canvas, (task, args): { ok: JsonValue } | { error: string } => {
      if (task === 'c') return { error: 'c failed' };
      return { ok: task === 'a' ? 'A' : `${task}(${args.map((x) => (Array.isArray(x) ? x.join(',') : String(x))).join(',')})` };
    });
    const snap = await wf.status();
    assert.deepEqual(snap.nodes.map((n) => [n.id, n.state]), [...reference.nodes].map(([id, n]) => [id, n.state]));
    assert.deepEqual(snap.nodes.map((n) => n.state), ['succeeded', 'succeeded', 'failed', 'blocked', 'blocked', 'blocked', 'blocked']);
  });

  it('groups of chords of chains nest and results keep their shape', async () => {
    const t = await mode.create();
    const id = t.app.task('id', (_ctx, x: number) => x);
    const inc = t.app.task('inc', (_ctx, x: number) => x + 1);
    const sum = t.app.task('sum', (_ctx, xs: number[]) => xs.reduce((s, x) => s + x, 0));
    const pair = t.app.task('pair', (_ctx, x: number) => [x, x]);
    const canvas = group(
      chord([chain(id.s(1), inc.s()), id.s(10)], sum.s()),
      chain(id.s(5), group(inc.s(), chain(inc.s(), inc.s()), group(pair.s()))),
      group(group(group(id.s(7)))),
    );
    const wf = await t.start(canvas);
    assert.deepEqual(await wf.result(), [12, [6, 7, [[5, 5]]], [[[7]]]]);
  });
});
