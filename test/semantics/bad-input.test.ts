/**
 * RELIABILITY §5 at the API: bad input is refused where it enters, with a typed error, and never crashes a
 * worker. Options out of range (row 15), queue names (row 17), huge canvases (row 13), replacements past the
 * generation cap (row 14), handlers that throw non-Errors (row 11). Rows 4-6 and 16 are in results,
 * unknown-task, lifecycle and idempotency tests.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { pino } from 'pino';
import { CanvasError, chain, createApp, group, sig, WorkflowFailedError, type AnyCanvas } from '../../src/index.js';
import { forEachMode } from '../support/modes.js';

async function failure(promise: Promise<unknown>): Promise<WorkflowFailedError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof WorkflowFailedError, `expected WorkflowFailedError, got ${String(error)}`);
  return error;
}

const BAD_DURATIONS = [-1, NaN, Infinity, 1.5, 2 ** 31, '10' as unknown as number];
const DURATION_OPTIONS = ['countdownMs', 'retryDelayMs', 'timeLimitMs', 'softTimeLimitMs', 'retryBackoffMaxMs'] as const;
const BAD_QUEUES = ['', 'amq.reserved', 'q'.repeat(256), 'has space', 'brace{x}'];

it('durations that are negative, NaN, fractional or over 2^31-1 are refused at creation (row 15)', () => {
  const app = createApp({ logger: pino({ level: 'silent' }) });
  const task = app.task('t', () => 1);
  for (const key of DURATION_OPTIONS) {
    for (const value of BAD_DURATIONS) {
      const what = `${key}=${String(value)}`;
      assert.throws(() => task.s().set({ [key]: value }), CanvasError, what);
      assert.throws(() => sig('t', [], { [key]: value }), CanvasError, what);
      assert.throws(() => app.task(`t.${key}.${String(value)}`, () => 1, { [key]: value }), CanvasError, what);
      assert.throws(() => createApp({ defaults: { [key]: value } }), CanvasError, what);
    }
  }
  for (const value of [-1, NaN, 1.5, 2 ** 31]) {
    assert.throws(() => app.worker({ leaseMs: value }), CanvasError);
  }
  for (const value of [-1, 1.5, 10]) assert.throws(() => task.s().set({ priority: value }), CanvasError);
  assert.throws(() => task.s().set({ maxRetries: -1 }), CanvasError);
  assert.throws(() => task.s().set({ unknownOption: 1 } as never), CanvasError);
});

it('bad queue names are refused when the app, a task, a signature or a worker is made (row 17)', () => {
  const app = createApp({ logger: pino({ level: 'silent' }) });
  const task = app.task('t', () => 1);
  for (const queue of BAD_QUEUES) {
    assert.throws(() => createApp({ routes: { 'x.*': { queue } } }), CanvasError, queue);
    assert.throws(() => createApp({ defaults: { queue } }), CanvasError, queue);
    assert.throws(() => app.task(`t.${queue.length}.${queue.slice(0, 3)}`, () => 1, { queue }), CanvasError, queue);
    assert.throws(() => task.s().set({ queue }), CanvasError, queue);
    assert.throws(() => app.worker({ queues: [queue] }), CanvasError, queue);
  }
});

it('things that are not canvases are refused with CanvasError', async () => {
  const app = createApp({ eager: true, logger: pino({ level: 'silent' }) });
  try {
    const task = app.task('t', () => 1);
    assert.throws(() => (chain as unknown as () => AnyCanvas)(), CanvasError);
    assert.throws(() => group(task.s(), { task: 't' } as unknown as AnyCanvas), CanvasError);
    assert.throws(() => task.s().onError({ task: 'x' } as never), CanvasError);
    await assert.rejects(app.start({ task: 't', args: [] } as never), CanvasError);
    assert.throws(() => sig('', []), CanvasError);
    assert.throws(() => sig('x'.repeat(256), []), CanvasError);
  } finally {
    await app.close();
  }
});

forEachMode((mode) => {
  it('a canvas nested past the depth cap, or with too many nodes, is refused before anything is stored (row 13)', async () => {
    const t = await mode.create({ app: { limits: { canvasDepth: 50, maxNodes: 20 } } });
    const id = t.app.task('id', (_ctx, x: number) => x);
    let deep: AnyCanvas = id.s(1);
    for (let i = 0; i < 60; i++) deep = chain(deep);
    await assert.rejects(t.start(deep as never, { workflowId: 'too-deep' }), CanvasError);
    await assert.rejects(t.start(group(Array.from({ length: 21 }, (_, i) => id.s(i))), { workflowId: 'too-wide' }), CanvasError);
    for (const wid of ['too-deep', 'too-wide']) await assert.rejects(t.app.workflow(wid).status());
    // Just inside the caps, both run.
    let ok: AnyCanvas = id.s(7);
    for (let i = 0; i < 40; i++) ok = chain(ok);
    assert.equal(await (await t.start(ok as never)).result(), 7);
    assert.equal((await (await t.start(group(Array.from({ length: 20 }, (_, i) => id.s(i))))).result() as number[]).length, 20);
  });

  it('a canvas nested just inside the default depth cap (1,000) runs', async () => {
    const t = await mode.create();
    const id = t.app.task('id', (_ctx, x: number) => x);
    let deep: AnyCanvas = id.s(1);
    for (let i = 0; i < 990; i++) deep = i % 2 === 0 ? chain(deep) : group(deep);
    let expected: unknown = 1;
    for (let i = 0; i < 990; i++) expected = i % 2 === 0 ? expected : [expected];
    assert.deepEqual(await (await t.start(deep as never)).result(), expected);
  });

  it('a task that replaces itself forever fails with CanvasError at the generation cap (row 14)', async () => {
    const t = await mode.create({ app: { limits: { replaceGenerations: 5 } } });
    let calls = 0;
    const forever = t.app.task('forever', (ctx): number => {
      calls++;
      return ctx.replace(forever.s());
    });
    const error = await failure((await t.start(forever.s())).result());
    assert.ok(error.failures.some((f) => f.error.name === 'CanvasError' && /generations/.test(f.error.message)), JSON.stringify(error.failures));
    assert.equal(calls, 6);
  });

  it('handlers that throw non-Errors fail the node with a normalised error and the worker keeps running (row 11)', async () => {
    const t = await mode.create();
    const hostile = {
      get name(): string {
        throw new Error('getter');
      },
      get message(): string {
        throw new Error('getter');
      },
    };
    const circular: Error & { cause?: unknown } = new Error('circular cause');
    circular.cause = circular;
    const throwers: unknown[] = ['a string', undefined, null, 42, hostile, circular, { name: 'Plain', message: 'object' }];
    const thrower = t.app.task('thrower', (_ctx, i: number): number => {
      throw throwers[i];
    });
    const wf = await t.start(group(throwers.map((_, i) => thrower.s(i))));
    const error = await failure(wf.result());
    assert.equal(error.failures.length, throwers.length);
    for (const f of error.failures) {
      assert.equal(typeof f.error.name, 'string');
      assert.equal(typeof f.error.message, 'string');
    }
    const byNode = Object.fromEntries(error.failures.map((f) => [f.nodeId, [f.error.name, f.error.message]]));
    assert.deepEqual(byNode.n0, ['NonErrorThrown', 'a string']);
    assert.deepEqual(byNode.n1, ['NonErrorThrown', 'undefined']);
    assert.deepEqual(byNode.n5, ['Error', 'circular cause']);
    assert.deepEqual(byNode.n6, ['Plain', 'object']);
    const add = t.app.task('add', (_ctx, a: number, b: number) => a + b);
    assert.equal(await (await t.start(add.s(1, 1))).result(), 2);
  });
});
