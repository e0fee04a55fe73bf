/**
 * API.md "Types", checked by the compiler (`npm test` runs `tsc --noEmit` first): `wf.result()` resolves to the
 * type of the canvas (a signature its task's result, a chain its last step's, a group the tuple of its
 * members', a chord its body's); a mutable step whose first parameter cannot take the previous result is an
 * error, and so are wrong argument types in `s()` / `si()`; `sig()` is `unknown` unless the task is declared
 * in `TaskRegistry` by declaration merging, which then types it. Each `@ts-expect-error` line must be an
 * error, or tsc fails. The runtime tests at the end run typed canvases and check the values too.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { expectTypeOf } from 'expect-type';
import { pino } from 'pino';
import {
  chain, chord, createApp, group, sig, type Canvas, type ErrbackInfo, type NoParent, type Signature, type WorkflowHandle,
} from '../../src/index.js';

declare module '../../src/canvas/builders.js' {
  interface TaskRegistry {
    'typetest.email': { args: [to: string, subject: string]; result: boolean };
    'typetest.count': { args: [items: string[]]; result: number };
  }
}

const app = createApp({ eager: true, logger: pino({ level: 'silent' }) });
const add = app.task('typetest.add', (_ctx, x: number, y: number) => x + y);
const double = app.task('typetest.double', (_ctx, x: number) => x * 2);
const toText = app.task('typetest.toText', (_ctx, x: number) => `#${x}`);
const upper = app.task('typetest.upper', (_ctx, s: string) => s.toUpperCase());
const sum = app.task('typetest.sum', (_ctx, xs: number[]) => xs.reduce((a, b) => a + b, 0));
const pair = app.task('typetest.pair', (_ctx, t: [number, string]) => ({ n: t[0], s: t[1] }));
const later = app.task('typetest.later', async (_ctx, ms: number) => ms > 0);
const noop = app.task('typetest.noop', () => null);
// A handler that returns nothing is refused at compile time (undefined is no JSON value; it would fail at run time).
// @ts-expect-error void handler
app.task('typetest.void', () => {});
// @ts-expect-error async void handler
app.task('typetest.asyncVoid', async () => {});
const alert = app.task('typetest.alert', (_ctx, info: ErrbackInfo, channel: string) => `${channel}: ${info.task}`);

/** The type `wf.result()` resolves to for a canvas (never called: types only). */
function resultOf<R>(_canvas: Canvas<R, NoParent>): R {
  return undefined as never;
}

// --- wf.result() follows the canvas ---------------------------------------------------------------------

expectTypeOf(resultOf(add.s(1, 2))).toEqualTypeOf<number>();
expectTypeOf(resultOf(later.s(5))).toEqualTypeOf<boolean>();
expectTypeOf(resultOf(noop.s())).toEqualTypeOf<null>();
expectTypeOf(resultOf(chain(add.s(1, 2), toText.s()))).toEqualTypeOf<string>();
expectTypeOf(resultOf(chain(add.s(1, 2), toText.s(), upper.s()))).toEqualTypeOf<string>();
expectTypeOf(resultOf(group(add.s(1, 2), toText.si(3)))).toEqualTypeOf<[number, string]>();
expectTypeOf(resultOf(group([add.s(1, 2), upper.si('a')]))).toEqualTypeOf<[number, string]>();
expectTypeOf(resultOf(group(add.s(1, 2), group(toText.si(1), group())))).toEqualTypeOf<[number, [string, []]]>();
expectTypeOf(resultOf(group([1, 2, 3].map((n) => double.si(n))))).toEqualTypeOf<number[]>();
expectTypeOf(resultOf(chain(add.s(1, 2), group(double.s(), toText.s())))).toEqualTypeOf<[number, string]>();
expectTypeOf(resultOf(chord([add.s(1, 2), double.si(3)], sum.s()))).toEqualTypeOf<number>();
expectTypeOf(resultOf(chord(group(add.s(1, 2), toText.si(4)), pair.s()))).toEqualTypeOf<{ n: number; s: string }>();
expectTypeOf(resultOf(chain(group(add.s(1, 2), add.s(3, 4)), sum.s(), toText.s()))).toEqualTypeOf<string>();
expectTypeOf(resultOf(chain(add.s(1, 2), group(double.s(), double.s()), sum.s()))).toEqualTypeOf<number>();
expectTypeOf(resultOf(add.s(1, 2).set({ queue: 'math' }).onError(alert.s('ops')))).toEqualTypeOf<number>();
expectTypeOf<WorkflowHandle<number>['result']>().returns.toEqualTypeOf<Promise<number>>();

// --- signatures: full, partial, immutable ----------------------------------------------------------------

expectTypeOf(add.s(1, 2)).toEqualTypeOf<Signature<number, NoParent>>();
expectTypeOf(add.s(1)).toEqualTypeOf<Signature<number, number>>();
expectTypeOf(add.si(1, 2)).toEqualTypeOf<Signature<number, unknown>>();

/** Statements that only the compiler looks at: never called, so nothing here runs or starts a workflow. */
function compileOnly(): void {
  // @ts-expect-error wrong argument type in s()
  add.s('1', 2);
  // @ts-expect-error wrong argument type in a partial s()
  add.s('1');
  // @ts-expect-error too many arguments
  add.s(1, 2, 3);
  // @ts-expect-error si() needs every argument (it receives no parent result)
  add.si(1);
  // @ts-expect-error wrong argument type in si()
  upper.si(42);

  // Chains check each mutable step against the previous result.

  chain(add.s(1, 2), double.s(), toText.s(), upper.s());
  chain(add.s(1, 2), upper.si('immutable steps ignore the parent'), upper.s());
  // @ts-expect-error upper takes a string, the previous step gives a number
  chain(add.s(1, 2), upper.s());
  // @ts-expect-error the third step takes a number, the second gives a string
  chain(add.s(1, 2), toText.s(), double.s());
  // @ts-expect-error every member of a group receives the parent result: upper cannot take a number
  chain(add.s(1, 2), group(double.s(), upper.s()));
  // @ts-expect-error a step after a group receives the tuple, not a number
  chain(group(add.s(1, 2), add.s(3, 4)), double.s());
  // @ts-expect-error a chord body receives the header's array
  chord([add.s(1, 2)], double.s());
  // @ts-expect-error a chord body of the wrong tuple
  chord(group(add.s(1, 2), add.s(3, 4)), pair.s());
  // @ts-expect-error a canvas that needs a parent result cannot be started alone
  void app.start(double.s());
  // @ts-expect-error an errback whose first parameter is not the failure info
  add.s(1, 2).onError(upper.s());
  add.s(1, 2).onError(alert.s('ops'));
  add.s(1, 2).onError(upper.si('immutable errbacks take anything'));
}
void compileOnly;

// --- sig() by name ------------------------------------------------------------------------------------------

expectTypeOf(sig('not.declared', [1, 'x'])).toEqualTypeOf<Signature<unknown, unknown>>();
expectTypeOf(resultOf(chain(add.s(1, 2), sig('not.declared')))).toEqualTypeOf<unknown>();
expectTypeOf(sig('typetest.email', ['a@b.c', 'hi'])).toEqualTypeOf<Signature<boolean, NoParent>>();
expectTypeOf(sig('typetest.email', ['hi'])).toEqualTypeOf<Signature<boolean, string>>();
expectTypeOf(sig('typetest.email', ['a@b.c', 'hi'], { immutable: true })).toEqualTypeOf<Signature<boolean, unknown>>();
expectTypeOf(resultOf(chain(upper.si('a@b.c'), sig('typetest.email', ['subject'])))).toEqualTypeOf<boolean>();
expectTypeOf(resultOf(chord([upper.si('a'), upper.si('b')], sig('typetest.count', [])))).toEqualTypeOf<number>();

function compileOnlySig(): void {
  // @ts-expect-error a declared task's argument types are checked
  sig('typetest.email', ['a@b.c', 42]);
  // @ts-expect-error a declared task's partial signature is checked against the previous result
  chain(add.s(1, 2), sig('typetest.email', ['subject']));
}
void compileOnlySig;

// --- and at run time the values are what the types say ------------------------------------------------------

it('typed canvases run to values of their inferred types', async (t) => {
  t.after(() => app.close());
  app.task('typetest.email', (_ctx, to: string, subject: string) => to.includes('@') && subject.length > 0);
  app.task('typetest.count', (_ctx, items: string[]) => items.length);

  const tuple = await (await app.start(chain(add.s(1, 2), group(double.s(), toText.s())))).result();
  expectTypeOf(tuple).toEqualTypeOf<[number, string]>();
  assert.deepEqual(tuple, [6, '#3']);

  const body = await (await app.start(chord(group(add.s(1, 2), toText.si(4)), pair.s()))).result();
  expectTypeOf(body).toEqualTypeOf<{ n: number; s: string }>();
  assert.deepEqual(body, { n: 3, s: '#4' });

  const nothing = await (await app.start(noop.s())).result();
  expectTypeOf(nothing).toEqualTypeOf<null>();
  assert.equal(nothing, null);

  const sent = await (await app.start(chain(upper.si('a@b.c'), sig('typetest.email', ['subject'])))).result();
  expectTypeOf(sent).toEqualTypeOf<boolean>();
  assert.equal(sent, true);

  const counted = await (await app.start(chord([upper.si('a'), upper.si('b')], sig('typetest.count', [])))).result();
  expectTypeOf(counted).toEqualTypeOf<number>();
  assert.equal(counted, 2);

  const untyped = await (await app.start(sig('typetest.add', [2, 2]))).result();
  expectTypeOf(untyped).toEqualTypeOf<unknown>();
  assert.equal(untyped, 4);
});
