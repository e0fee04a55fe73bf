/**
 * API.md results: plain JSON values round-trip; anything else is refused with SerializationError naming the
 * offending path, at signature creation for arguments and as a permanent node failure for a result (a
 * handler that returns nothing included); `ignoreResult` hides a node's result in status() while downstream still receives it;
 * `result()` hears the settle notification (it does not depend on the poll fallback).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { chain, group, sig, SerializationError, WorkflowFailedError, type JsonValue } from '../../src/index.js';
import { deferred, forEachMode } from '../support/modes.js';

async function failure(promise: Promise<unknown>): Promise<WorkflowFailedError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof WorkflowFailedError, `expected WorkflowFailedError, got ${String(error)}`);
  return error;
}

class Point {
  constructor(readonly x: number) {}
}

/** Non-JSON values, with where inside the value the offending part sits (for the path a SerializationError names). */
function badValues(): Array<[string, unknown, string?]> {
  const cycle: Record<string, unknown> = {};
  cycle.self = cycle;
  // eslint-disable-next-line no-sparse-arrays
  const sparse = [1, , 3];
  return [
    ['undefined', undefined], ['NaN', NaN], ['Infinity', Infinity], ['-Infinity', -Infinity], ['BigInt', 10n],
    ['function', () => 1], ['symbol', Symbol('s')], ['Date', new Date(0)], ['Map', new Map()], ['Set', new Set()],
    ['class instance', new Point(1)], ['cycle', cycle, '.self'], ['sparse array', sparse, '[1]'],
  ];
}

forEachMode((mode) => {
  it('plain JSON results round-trip with their types', async () => {
    const t = await mode.create();
    const values: JsonValue[] = [null, true, false, 0, -1.5, 1e21, '', 'text ✓', [], [1, [2, [3]]], {}, { a: { b: [null, 'c'] }, 'key with space': 1 }];
    const echo = t.app.task('echo', (_ctx, v: JsonValue) => v);
    const wf = await t.start(group(values.map((v) => echo.s(v))));
    assert.deepEqual(await wf.result(), values);
    const snap = await wf.status();
    assert.deepEqual(snap.nodes.map((n) => n.result), values);
    assert.deepEqual(snap.result, values);
  });

  it('an async handler\'s resolved value is the result', async () => {
    const t = await mode.create();
    const later = t.app.task('later', async (_ctx, x: number) => {
      await Promise.resolve();
      return { x };
    });
    assert.deepEqual(await (await t.start(later.s(7))).result(), { x: 7 });
  });

  it('a handler that returns nothing fails for good with SerializationError (undefined is no JSON value); null is a result', async () => {
    const t = await mode.create();
    let runs = 0;
    // Refused by the types too; a JavaScript caller (or a cast) gets the run-time refusal.
    // @ts-expect-error a handler must return a JSON value
    const nothing = t.app.task('nothing', () => {
      runs += 1;
    }, { maxRetries: 3, autoretryFor: ['SerializationError'] });
    // @ts-expect-error a handler must return a JSON value
    const asyncNothing = t.app.task('asyncNothing', async () => {});
    const none = t.app.task('none', () => null);
    const next = t.app.task('next', (_ctx, prev: null) => (prev === null ? 'after' : 'unexpected'));
    for (const sig of [nothing.s(), asyncNothing.s()]) {
      const [first] = (await failure((await t.start(sig)).result())).failures;
      assert.equal(first?.error.name, 'SerializationError');
      assert.match(first?.error.message ?? '', /^result: .*undefined.*return null/);
    }
    assert.equal(runs, 1, 'a non-JSON result is never retried');
    assert.equal(await (await t.start(none.s())).result(), null);
    assert.equal(await (await t.start(chain(none.s(), next.s()))).result(), 'after');
  });

  it('a non-JSON result fails the node for good with SerializationError naming the path (never retried)', async () => {
    const t = await mode.create();
    const attempts: number[] = [];
    const bad = t.app.task('bad', (ctx, which: number): unknown => {
      attempts.push(ctx.attempt);
      const [, value] = badValues()[which]!;
      return { ok: 1, inner: [value] };
    }, { autoretryFor: [Error, 'SerializationError'], maxRetries: 3 });
    const after = t.app.task('after', (_ctx, x: unknown) => x);
    for (let which = 0; which < badValues().length; which++) {
      attempts.length = 0;
      const wf = await t.start(chain(bad.s(which), after.s()));
      const error = await failure(wf.result());
      const [name] = badValues()[which]!;
      assert.equal(error.failures[0]!.error.name, 'SerializationError', name);
      assert.ok(error.failures[0]!.error.message.startsWith(`result.inner[0]${badValues()[which]![2] ?? ''}: `), `${name}: ${error.failures[0]!.error.message}`);
      assert.deepEqual(attempts, [1], name);
      const snap = await wf.status();
      assert.deepEqual(snap.nodes.map((n) => n.state), ['failed', 'blocked'], name);
    }
  });

  it('a result over the size limit fails the node with SerializationError', async () => {
    const t = await mode.create({ app: { limits: { resultBytes: 64 } } });
    const big = t.app.task('big', () => 'x'.repeat(100));
    const error = await failure((await t.start(big.s())).result());
    assert.equal(error.failures[0]!.error.name, 'SerializationError');
    assert.match(error.failures[0]!.error.message, /over the limit/);
  });

  it('ignoreResult hides the result in status() while downstream still receives it', async () => {
    const t = await mode.create();
    const secret = t.app.task('secret', () => ({ token: 's3cr3t' }), { ignoreResult: true });
    const use = t.app.task('use', (_ctx, v: { token: string }) => v.token.length);
    const wf = await t.start(chain(secret.s(), use.s()));
    assert.equal(await wf.result(), 6);
    const snap = await wf.status();
    assert.deepEqual(snap.nodes.map((n) => [n.state, 'result' in n]), [['succeeded', false], ['succeeded', true]]);
    assert.equal(snap.nodes[1]!.result, 6);
  });

  it('ignoreResult set on a signature applies to that node only', async () => {
    const t = await mode.create();
    const id = t.app.task('id', (_ctx, x: number) => x);
    const wf = await t.start(group(id.s(1).set({ ignoreResult: true }), id.s(2)));
    assert.deepEqual(await wf.result(), [1, 2]);
    const snap = await wf.status();
    assert.deepEqual(snap.nodes.map((n) => n.result), [undefined, 2]);
  });

  it('result() hears the settle notification without the poll fallback', { timeout: 20_000 }, async () => {
    // With a poll interval far beyond the test timeout, a missed notification would hang this test.
    const t = await mode.create({ app: { resultPollMs: 600_000 } });
    const gates = [deferred(), deferred(), deferred()];
    const entered = [deferred(), deferred(), deferred()];
    const gated = t.app.task('gated', async (_ctx, i: number) => {
      entered[i]!.resolve();
      await gates[i]!.promise;
      return i;
    });
    const started = [0, 1, 2].map((i) => t.start(gated.s(i), { workflowId: `notify-${i}` }));
    for (const [i, gate] of gates.entries()) {
      await entered[i]!.promise;
      gate.resolve();
      // Wait as the workflow settles: the result must come from the notification.
      assert.equal(await t.app.workflow(`notify-${i}`).result(), i);
    }
    await Promise.all(started);
  });
});

// Arguments are checked when the signature is made: no app, mode or worker involved.
it('arguments that are not JSON are refused at sig()/s() with SerializationError naming the path', () => {
  for (const [name, value, inside = ''] of badValues()) {
    assert.throws(() => sig('any.task', [1, { v: value }] as unknown as JsonValue[]), (error: unknown) => {
      assert.ok(error instanceof SerializationError, name);
      assert.equal(error.path, `any.task.args[1].v${inside}`, name);
      return true;
    });
  }
  assert.throws(() => sig('any.task', [JSON.parse('{"__proto__": 1}')]), SerializationError);
});
