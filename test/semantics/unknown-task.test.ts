/**
 * API.md: a node whose task no worker has registered fails with UnknownTaskError (never retried); the worker
 * keeps running. Names that are properties of every object (`__proto__`, `constructor`, `toString`) select
 * nothing (RELIABILITY §5 row 6, S2).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { chain, sig, UnknownTaskError, WorkflowFailedError, type ErrbackInfo } from '../../src/index.js';
import { forEachMode } from '../support/modes.js';

async function failure(promise: Promise<unknown>): Promise<WorkflowFailedError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof WorkflowFailedError, `expected WorkflowFailedError, got ${String(error)}`);
  return error;
}

const PROTOTYPE_NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'prototype'];

forEachMode((mode) => {
  it('sig(\'nope\') fails with UnknownTaskError, is not retried, and the worker goes on to the next workflow', async () => {
    // Even when every error is marked retryable, an unknown task is not retried.
    const t = await mode.create({ app: { defaults: { autoretryFor: [Error, 'UnknownTaskError'], maxRetries: 5 } } });
    const add = t.app.task('add', (_ctx, a: number, b: number) => a + b);
    const wf = await t.start(sig('nope', [1, 2]));
    const error = await failure(wf.result());
    assert.deepEqual(error.failures.map((f) => [f.nodeId, f.task, f.error.name]), [['n0', 'nope', 'UnknownTaskError']]);
    assert.match(error.failures[0]!.error.message, /nope/);
    const node = (await wf.status()).nodes[0]!;
    assert.deepEqual([node.state, node.attempts, node.args], ['failed', 1, [1, 2]]);
    assert.equal(t.probe.of('retry').length, 0);
    assert.equal(new UnknownTaskError('nope').name, 'UnknownTaskError');
    // The same worker still runs work.
    assert.equal(await (await t.start(add.s(20, 22))).result(), 42);
  });

  for (const name of PROTOTYPE_NAMES) {
    it(`a task named ${JSON.stringify(name)} is unknown unless registered`, async () => {
      const t = await mode.create();
      const wf = await t.start(sig(name, ['x']));
      const error = await failure(wf.result());
      assert.deepEqual(error.failures.map((f) => [f.task, f.error.name]), [[name, 'UnknownTaskError']]);
    });
  }

  it('an unknown task in a chain blocks what follows and fires the errback once', async () => {
    const t = await mode.create();
    const reports: ErrbackInfo[] = [];
    const ran: string[] = [];
    const step = t.app.task('step', (_ctx, x: unknown) => {
      ran.push(String(x));
      return 1;
    });
    const report = t.app.task('report', (_ctx, info: ErrbackInfo) => {
      reports.push(info);
      return null;
    });
    const wf = await t.start(chain(sig('missing.task', [], { immutable: true }), step.s()).onError(report.s()));
    await failure(wf.result());
    assert.deepEqual(ran, []);
    assert.deepEqual(reports.map((r) => [r.nodeId, r.task, r.error.name]), [['n0', 'missing.task', 'UnknownTaskError']]);
    assert.deepEqual((await wf.status()).nodes.filter((n) => n.kind === 'task').map((n) => n.state), ['failed', 'blocked']);
  });

  it('a task registered under a prototype name runs like any other', async () => {
    const t = await mode.create();
    t.app.task('constructor', (_ctx, x: string) => `ran ${x}`);
    const wf = await t.start(sig('constructor', ['ok']));
    assert.equal(await wf.result(), 'ran ok');
  });
});
