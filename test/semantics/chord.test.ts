/**
 * API.md "Signatures and canvas", chord: the body receives the header's result array; an empty header calls
 * the body with []; if a header member fails the body never runs (it is blocked); a chord is the same as
 * `chain(group(header), body)`, in result and in graph.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { chain, chord, group, WorkflowFailedError, type WorkflowSnapshot } from '../../src/index.js';
import { deferred, forEachMode } from '../support/modes.js';

/** The parts of a snapshot that describe the graph (no timestamps, no ids of the workflow). */
function shape(snap: WorkflowSnapshot): unknown {
  return { state: snap.state, result: snap.result, nodes: snap.nodes.map((n) => ({ id: n.id, task: n.task, state: n.state, deps: n.deps, args: n.args, result: n.result, attempts: n.attempts })) };
}

forEachMode((mode) => {
  it('the body receives the header\'s result array', async () => {
    const t = await mode.create();
    const bodyCalls: unknown[][] = [];
    const square = t.app.task('square', (_ctx, x: number) => x * x);
    const collect = t.app.task('collect', (_ctx, squares: number[], tail: string) => {
      bodyCalls.push([squares, tail]);
      return 'collected';
    });
    const wf = await t.start(chord([square.s(1), square.s(2), square.s(3)], collect.s('tail')));
    assert.equal(await wf.result(), 'collected');
    assert.deepEqual(bodyCalls, [[[1, 4, 9], 'tail']]);
  });

  it('the body receives header results in declaration order whatever the completion order', async () => {
    const t = await mode.create();
    const gates = [deferred(), deferred()];
    const gated = t.app.task('gated', async (_ctx, i: number) => {
      await gates[i]!.promise;
      return i;
    });
    const sum = t.app.task('list', (_ctx, xs: number[]) => xs);
    const started = t.start(chord([gated.s(0), gated.s(1)], sum.s()), { workflowId: 'chord-order' });
    gates[1]!.resolve();
    await t.probe.when('n1', 'complete');
    gates[0]!.resolve();
    const wf = await started;
    assert.deepEqual(await wf.result(), [0, 1]);
  });

  it('takes a group as its header', async () => {
    const t = await mode.create();
    const id = t.app.task('id', (_ctx, x: string) => x);
    const join = t.app.task('join', (_ctx, xs: string[]) => xs.join(','));
    const wf = await t.start(chord(group(id.s('a'), id.s('b')), join.s()));
    assert.equal(await wf.result(), 'a,b');
  });

  it('an empty header calls the body with []', async () => {
    const t = await mode.create();
    const calls: unknown[][] = [];
    const body = t.app.task('body', (_ctx, header: unknown[]) => {
      calls.push([header]);
      return 'ran';
    });
    const wf = await t.start(chord([], body.s()));
    assert.equal(await wf.result(), 'ran');
    assert.deepEqual(calls, [[[]]]);
    const snap = await wf.status();
    assert.deepEqual(snap.nodes.map((n) => [n.id, n.deps]), [['n0', []]]);
  });

  it('a header failure means the body never runs: it is blocked', async () => {
    const t = await mode.create();
    let bodyRuns = 0;
    const gate = deferred();
    const ok = t.app.task('ok', async () => {
      await gate.promise;
      return 1;
    });
    const boom = t.app.task('boom', () => {
      throw new Error('header member failed');
    });
    const body = t.app.task('body', (_ctx, xs: number[]) => {
      bodyRuns++;
      return xs.length;
    });
    const started = t.start(chord([ok.s(), boom.s(), ok.s()], body.s()), { workflowId: 'chord-fail' });
    await t.probe.when('n1', 'fail');
    gate.resolve();
    const wf = await started;
    const error = await wf.result().then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof WorkflowFailedError);
    assert.deepEqual(error.failures.map((f) => f.nodeId), ['n1']);
    assert.equal(bodyRuns, 0);
    const snap = await wf.status();
    assert.deepEqual(snap.nodes.map((n) => [n.id, n.state]), [['n0', 'succeeded'], ['n1', 'failed'], ['n2', 'succeeded'], ['n3', 'blocked']]);
    assert.equal(snap.nodes[3]!.attempts, 0);
  });

  it('an immutable body waits for the header without receiving it', async () => {
    const t = await mode.create();
    const calls: unknown[][] = [];
    const id = t.app.task('id', (_ctx, x: number) => x);
    const body = t.app.task('body', (_ctx, own: string) => {
      calls.push([own]);
      return 'done';
    });
    const wf = await t.start(chord([id.s(1), id.s(2)], body.si('own')));
    assert.equal(await wf.result(), 'done');
    assert.deepEqual(calls, [['own']]);
    assert.deepEqual((await wf.status()).nodes[2]!.deps, ['n0', 'n1']);
  });

  it('chord(header, body) is chain(group(header), body): same result and same graph', async () => {
    const t = await mode.create();
    const add = t.app.task('add', (_ctx, a: number, b: number) => a + b);
    const total = t.app.task('total', (_ctx, xs: number[], plus: number) => xs.reduce((s, x) => s + x, 0) + plus);
    const header = [add.s(1, 2), chain(add.s(3, 4), add.s(10)), add.s(5, 5)] as const;
    const asChord = await t.start(chord([add.s(1, 2), chain(add.s(3, 4), add.s(10)), add.s(5, 5)], total.s(100)));
    const asChain = await t.start(chain(group(...header), total.s(100)));
    const chordResult = await asChord.result();
    assert.deepEqual(chordResult, await asChain.result());
    assert.equal(chordResult, 3 + 17 + 10 + 100);
    assert.deepEqual(shape(await asChord.status()), shape(await asChain.status()));
  });

  it('a group followed by a chain in a chain is a chord whose body is that chain', async () => {
    const t = await mode.create();
    const id = t.app.task('id', (_ctx, x: number) => x);
    const count = t.app.task('count', (_ctx, xs: number[]) => xs.length);
    const double = t.app.task('double', (_ctx, x: number) => x * 2);
    const a = await t.start(chain(group(id.s(1), id.s(2), id.s(3)), chain(count.s(), double.s())));
    const b = await t.start(chord([id.s(1), id.s(2), id.s(3)], chain(count.s(), double.s())));
    assert.equal(await a.result(), 6);
    assert.equal(await b.result(), 6);
    assert.deepEqual(shape(await a.status()), shape(await b.status()));
  });

  it('a chord whose body is a group passes the header array to every body member', async () => {
    const t = await mode.create();
    const id = t.app.task('id', (_ctx, x: number) => x);
    const sum = t.app.task('sum', (_ctx, xs: number[]) => xs.reduce((s, x) => s + x, 0));
    const max = t.app.task('max', (_ctx, xs: number[]) => Math.max(...xs));
    const wf = await t.start(chord([id.s(4), id.s(9)], group(sum.s(), max.s())));
    assert.deepEqual(await wf.result(), [13, 9]);
  });
});
