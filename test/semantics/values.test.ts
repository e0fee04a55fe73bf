/**
 * API.md: every signature and canvas is an immutable value (`.set()` and `.onError()` return copies with
 * options merged, the most specific winning at run time); every error is exported, extends BraidError and
 * carries a stable `code`.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { pino } from 'pino';
import {
  BraidError, CanvasError, chain, chord, createApp, group, MaxRetriesExceededError, SerializationError, sig,
  SoftTimeLimitExceeded, StoreLostError, TimeLimitExceeded, UnknownTaskError, WorkerLostError,
  WorkflowCanceledError, WorkflowFailedError, WorkflowStateError, type AnyCanvas,
} from '../../src/index.js';
import { forEachMode } from '../support/modes.js';

it('signatures and canvases are immutable; set() and onError() return copies', () => {
  const app = createApp({ logger: pino({ level: 'silent' }) });
  const add = app.task('add', (_ctx, a: number, b: number) => a + b);
  const report = app.task('report', () => null);
  const args: [number, number] = [1, 2];
  const s = add.s(...args);
  args[0] = 99;
  assert.deepEqual(s.args, [1, 2]);
  assert.ok(Object.isFrozen(s.args) && Object.isFrozen(s.options));
  assert.throws(() => (s.args as number[]).push(3), TypeError);

  const a = s.set({ queue: 'one', maxRetries: 1 });
  const b = a.set({ maxRetries: 5 });
  assert.notEqual(a, s);
  assert.deepEqual(s.options, {});
  assert.deepEqual(a.options, { queue: 'one', maxRetries: 1 });
  assert.deepEqual(b.options, { queue: 'one', maxRetries: 5 });
  assert.deepEqual([b.task, b.args, b.immutable], ['add', [1, 2], false]);

  const withErrback = b.onError(report.si());
  assert.equal(b.errbacks.length, 0);
  assert.equal(withErrback.errbacks.length, 1);
  assert.deepEqual(withErrback.options, b.options);

  const members: AnyCanvas[] = [add.s(1, 1), add.s(2, 2)];
  const g = group(members);
  members.push(add.s(3, 3));
  assert.equal(g.members.length, 2);
  const c = chain(add.s(1, 1), add.s(1));
  const cSet = c.set({ priority: 3 });
  assert.deepEqual([c.options, cSet.options, cSet.steps], [{}, { priority: 3 }, c.steps]);
  const ch = chord([add.s(1, 1)], sig('sum', []));
  assert.deepEqual(ch.set({ queue: 'q' }).header, ch.header);
  assert.equal(sig('x', [], { immutable: true }).immutable, true);
});

forEachMode((mode) => {
  it('options set on a canvas apply to every node inside; the innermost wins', async () => {
    const t = await mode.create({ worker: { queues: ['outer', 'inner', 'own'] } });
    const id = t.app.task('id', (_ctx, x: number) => x);
    const canvas = group(id.s(1), chain(id.s(2), id.si(3).set({ queue: 'own' })).set({ queue: 'inner' })).set({ queue: 'outer' });
    const wf = await t.start(canvas);
    assert.deepEqual(await wf.result(), [1, 3]);
    assert.deepEqual((await wf.status()).nodes.map((n) => n.queue), ['outer', 'inner', 'own']);
  });
});

it('every error is exported, extends BraidError and has a stable, distinct code', () => {
  const errors: BraidError[] = [
    new SerializationError('args[0]', 'bad'), new CanvasError('bad'), new UnknownTaskError('x'),
    new WorkflowFailedError('w', []), new WorkflowCanceledError('w'), new WorkflowStateError('w', 'bad'),
    new SoftTimeLimitExceeded(1), new TimeLimitExceeded(1), new MaxRetriesExceededError(1), new WorkerLostError(1),
    new StoreLostError('gone'),
  ];
  const codes = new Set<string>();
  for (const error of errors) {
    assert.ok(error instanceof BraidError && error instanceof Error, error.name);
    assert.equal(error.name, error.constructor.name);
    assert.equal(typeof error.code, 'string');
    assert.ok(error.code.length > 0);
    codes.add(error.code);
  }
  assert.equal(codes.size, errors.length);
  assert.ok(!(new CanvasError('x') instanceof SerializationError));
});
