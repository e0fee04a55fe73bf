/**
 * API.md "Signatures and canvas", chain: steps run in order, each mutable step receives the previous result
 * prepended as its FIRST argument, an immutable step ignores it, the chain's result is the last step's, and a
 * failure stops the chain: later steps are blocked and never run.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { chain, sig, WorkflowFailedError } from '../../src/index.js';
import { forEachMode } from '../support/modes.js';

forEachMode((mode) => {
  it('runs steps in order and returns the last step\'s result', async () => {
    const t = await mode.create();
    const order: string[] = [];
    const step = t.app.task('step', (_ctx, trail: string[], name: string) => {
      order.push(name);
      return [...trail, name];
    });
    const first = t.app.task('first', (_ctx, name: string) => {
      order.push(name);
      return [name];
    });
    const wf = await t.start(chain(first.s('a'), step.s('b'), step.s('c'), step.s('d')));
    assert.deepEqual(await wf.result(), ['a', 'b', 'c', 'd']);
    assert.deepEqual(order, ['a', 'b', 'c', 'd']);
  });

  it('prepends the parent result as the FIRST argument of a mutable step', async () => {
    const t = await mode.create();
    const calls: unknown[][] = [];
    const record = t.app.task('record', (_ctx, parent: { from: string }, x: string, n: number) => {
      calls.push([parent, x, n]);
      return 'r';
    });
    const seed = t.app.task('seed', () => ({ from: 'seed' }));
    const wf = await t.start(chain(seed.s(), record.s('x', 2)));
    assert.equal(await wf.result(), 'r');
    assert.deepEqual(calls, [[{ from: 'seed' }, 'x', 2]]);
  });

  it('an immutable step (si) ignores the parent result but still runs after it', async () => {
    const t = await mode.create();
    const calls: unknown[][] = [];
    const first = t.app.task('first', (_ctx, name: string) => {
      calls.push([name]);
      return `done ${name}`;
    });
    const record = t.app.task('record', (_ctx, parent: string | null, name: string) => {
      calls.push([parent, name]);
      return `done ${name}`;
    });
    const wf = await t.start(chain(first.s('one'), record.si(null, 'two'), record.s('three')));
    assert.equal(await wf.result(), 'done three');
    assert.deepEqual(calls, [['one'], [null, 'two'], ['done two', 'three']]);
    const snap = await wf.status();
    assert.deepEqual(snap.nodes.map((n) => n.deps), [[], ['n0'], ['n1']]);
  });

  it('sig(name, args, { immutable: true }) is immutable like si()', async () => {
    const t = await mode.create();
    const seen: unknown[][] = [];
    t.app.task('echo', (_ctx, ...args: unknown[]) => {
      seen.push(args);
      return args;
    });
    const wf = await t.start(chain(sig('echo', [1]), sig('echo', [2], { immutable: true }), sig('echo', [3])));
    assert.deepEqual(await wf.result(), [[2], 3]);
    assert.deepEqual(seen, [[1], [2], [[2], 3]]);
  });

  it('a failure stops the chain: later steps are blocked and never run', async () => {
    const t = await mode.create();
    const ran: string[] = [];
    const ok = t.app.task('ok', (_ctx, name: string) => {
      ran.push(`ok:${name}`);
      return 1;
    });
    const boom = t.app.task('boom', () => {
      ran.push('boom');
      throw new TypeError('broken step');
    });
    const wf = await t.start(chain(ok.s('a'), boom.si(), ok.si('c'), ok.si('d')));
    const error = await wf.result().then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof WorkflowFailedError);
    assert.equal(error.workflowId, wf.id);
    assert.deepEqual(error.failures.map((f) => ({ nodeId: f.nodeId, task: f.task, name: f.error.name, message: f.error.message })), [
      { nodeId: 'n1', task: 'boom', name: 'TypeError', message: 'broken step' },
    ]);
    assert.match(error.failures[0]!.error.stack ?? '', /TypeError: broken step/);
    assert.deepEqual(ran, ['ok:a', 'boom']);
    const snap = await wf.status();
    assert.equal(snap.state, 'failed');
    assert.deepEqual(snap.nodes.map((n) => [n.id, n.state, n.attempts]), [
      ['n0', 'succeeded', 1], ['n1', 'failed', 1], ['n2', 'blocked', 0], ['n3', 'blocked', 0],
    ]);
    assert.equal(snap.result, undefined);
  });

  it('a one-step chain is that step', async () => {
    const t = await mode.create();
    const add = t.app.task('add', (_ctx, a: number, b: number) => a + b);
    const wf = await t.start(chain(add.s(2, 3)));
    assert.equal(await wf.result(), 5);
  });

  it('a chain nested in a chain passes results straight through', async () => {
    const t = await mode.create();
    const add = t.app.task('add', (_ctx, a: number, b: number) => a + b);
    const wf = await t.start(chain(add.s(1, 1), chain(add.s(10), add.s(100)), add.s(1000)));
    assert.equal(await wf.result(), 1112);
  });
});
