/**
 * API.md "Signatures and canvas", group: members run in parallel; the result is the array of member results
 * in declaration order whatever the completion order; nested groups stay nested; a chain member contributes
 * its last result; a group that receives a parent result passes it to every member; an empty group gives [];
 * members keep running when a sibling fails and their results are kept.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { chain, group, WorkflowFailedError } from '../../src/index.js';
import { deferred, forEachMode, type Deferred } from '../support/modes.js';

forEachMode((mode) => {
  it('results come in declaration order when members finish in reverse order', async () => {
    const t = await mode.create();
    const gates: Record<string, Deferred<void>> = { a: deferred(), b: deferred(), c: deferred() };
    const entered = { a: deferred(), b: deferred(), c: deferred() };
    const gated = t.app.task('gated', async (_ctx, name: 'a' | 'b' | 'c') => {
      entered[name].resolve();
      await gates[name]!.promise;
      return `result ${name}`;
    });
    const started = t.start(group(gated.s('a'), gated.s('b'), gated.s('c')), { workflowId: 'reverse' });
    // All three run at once; then they finish c, b, a: each gate opens only once the previous commit is stored.
    await Promise.all([entered.a.promise, entered.b.promise, entered.c.promise]);
    gates.c!.resolve();
    await t.probe.when('n2', 'complete');
    gates.b!.resolve();
    await t.probe.when('n1', 'complete');
    gates.a!.resolve();
    const wf = await started;
    assert.deepEqual(await wf.result(), ['result a', 'result b', 'result c']);
    // The settle notification may carry the result and arrive before the worker hears its commit's reply.
    await t.probe.when('n0', 'complete');
    assert.deepEqual(t.probe.of('complete').map((e) => e.nodeId), ['n2', 'n1', 'n0']);
  });

  it('takes members as arguments or as one array', async () => {
    const t = await mode.create();
    const id = t.app.task('id', (_ctx, x: number) => x);
    const a = await t.start(group(id.s(1), id.s(2)));
    const b = await t.start(group([id.s(1), id.s(2)]));
    assert.deepEqual(await a.result(), [1, 2]);
    assert.deepEqual(await b.result(), [1, 2]);
  });

  it('nested groups stay nested (not flattened), empty ones included', async () => {
    const t = await mode.create();
    const id = t.app.task('id', (_ctx, x: string) => x);
    const wf = await t.start(group(id.s('a'), group(id.s('b'), group(id.s('c'), id.s('d'))), group(), id.s('e')));
    assert.deepEqual(await wf.result(), ['a', ['b', ['c', 'd']], [], 'e']);
  });

  it('a chain member contributes its last result', async () => {
    const t = await mode.create();
    const add = t.app.task('add', (_ctx, a: number, b: number) => a + b);
    const wf = await t.start(group(chain(add.s(1, 1), add.s(10), add.s(100)), add.s(5, 5), chain(add.s(0, 7))));
    assert.deepEqual(await wf.result(), [112, 10, 7]);
  });

  it('a group receiving a parent result passes it to every member (and into a chain member\'s first step only)', async () => {
    const t = await mode.create();
    const seed = t.app.task('seed', () => 'P');
    const tag = t.app.task('tag', (_ctx, parent: string, x: string) => `${parent}+${x}`);
    const alone = t.app.task('alone', (_ctx, x: string) => x);
    const wf = await t.start(chain(seed.s(), group(tag.s('x'), tag.s('y'), chain(tag.s('z'), tag.s('w')), alone.si('alone'), group(tag.s('inner')))));
    assert.deepEqual(await wf.result(), ['P+x', 'P+y', 'P+z+w', 'alone', ['P+inner']]);
  });

  it('an empty group\'s result is []', async () => {
    const t = await mode.create();
    const wf = await t.start(group());
    assert.deepEqual(await wf.result(), []);
    const snap = await wf.status();
    assert.equal(snap.state, 'succeeded');
    assert.deepEqual(snap.nodes, []);
  });

  it('an empty group inside a chain passes [] to the next step', async () => {
    const t = await mode.create();
    const seen: unknown[][] = [];
    const first = t.app.task('first', () => 'ignored by the empty group');
    const next = t.app.task('next', (_ctx, parent: unknown, own: string) => {
      seen.push([parent, own]);
      return own.length;
    });
    const wf = await t.start(chain(first.s(), group(), next.s('own')));
    assert.equal(await wf.result(), 3);
    assert.deepEqual(seen, [[[], 'own']]);
    const snap = await wf.status();
    assert.deepEqual(snap.nodes.map((n) => n.deps), [[], ['n0']]);
  });

  it('siblings keep running when one fails and keep their results; downstream is blocked', async () => {
    const t = await mode.create();
    const gate = deferred();
    const ran: string[] = [];
    const slow = t.app.task('slow', async (_ctx, name: string) => {
      await gate.promise;
      ran.push(name);
      return `kept ${name}`;
    });
    const boom = t.app.task('boom', () => {
      ran.push('boom');
      throw new RangeError('member failed');
    });
    const after = t.app.task('after', () => {
      ran.push('after');
      return 0;
    });
    const started = t.start(chain(group(slow.s('a'), boom.s(), slow.s('c')), after.si()), { workflowId: 'siblings' });
    // The siblings are still running when the failure is stored, and finish after it.
    await t.probe.when('n1', 'fail');
    gate.resolve();
    const wf = await started;
    const error = await wf.result().then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof WorkflowFailedError);
    assert.deepEqual(error.failures.map((f) => f.nodeId), ['n1']);
    const snap = await wf.status();
    assert.deepEqual(snap.nodes.map((n) => [n.id, n.state, n.result]), [
      ['n0', 'succeeded', 'kept a'],
      ['n1', 'failed', undefined],
      ['n2', 'succeeded', 'kept c'],
      ['n3', 'blocked', undefined],
    ]);
    assert.deepEqual(ran.sort(), ['a', 'boom', 'c']);
  });

  it('every failing member is reported, siblings still finish', async () => {
    const t = await mode.create();
    const boom = t.app.task('boom', (_ctx, n: number) => {
      throw new Error(`fail ${n}`);
    });
    const ok = t.app.task('ok', () => 'fine');
    const wf = await t.start(group(boom.s(1), ok.s(), boom.s(2)));
    const error = await wf.result().then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof WorkflowFailedError);
    assert.deepEqual(error.failures.map((f) => [f.nodeId, f.error.message]).sort(), [['n0', 'fail 1'], ['n2', 'fail 2']]);
    const snap = await wf.status();
    assert.deepEqual(snap.nodes.map((n) => n.state), ['failed', 'succeeded', 'failed']);
  });
});
