/**
 * One attempt's context and invocation (src/runtime/context.ts, run-handler.ts): `ctx.signal` and `ctx.log` are
 * made on first use, and still abort and log as API.md says whether they are first read before or after the
 * abort; a handler's outcome is the same whether it returns a value, a promise or a thenable, throws, or is
 * stopped from outside; a retry or replace it asked for wins even when it swallowed the throw.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { SoftTimeLimitExceeded, TimeLimitExceeded } from '../../src/core/errors.js';
import { AttemptContext, type TaskContext } from '../../src/runtime/context.js';
import type { AnyHandler } from '../../src/runtime/registry.js';
import { runHandler, Stopper } from '../../src/runtime/run-handler.js';
import { sig } from '../../src/canvas/builders.js';

function memoryLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

function context(logger = pino({ level: 'silent' })): AttemptContext {
  return new AttemptContext('wf-1', 'n0', 'math.add', 2, logger);
}

const handler = (fn: (ctx: TaskContext, ...args: never[]) => unknown): AnyHandler => fn as AnyHandler;

describe('ctx.signal', () => {
  test('an abort before the first read gives an already aborted signal with that reason', () => {
    const ctx = context();
    const reason = new SoftTimeLimitExceeded(10);
    ctx.abort(reason);
    assert.equal(ctx.aborted, true);
    assert.equal(ctx.signal.aborted, true);
    assert.equal(ctx.signal.reason, reason);
    assert.equal(ctx.signal, ctx.signal);
  });

  test('an abort after the first read fires the listeners once; the first reason wins', () => {
    const ctx = context();
    const signal = ctx.signal;
    const heard: unknown[] = [];
    signal.addEventListener('abort', () => heard.push(signal.reason));
    assert.equal(signal.aborted, false);
    const first = new Error('first');
    ctx.abort(first);
    ctx.abort(new Error('second'));
    assert.deepEqual(heard, [first]);
    assert.equal(ctx.signal.reason, first);
  });

  test('works with APIs that take a signal (AbortSignal.any)', () => {
    const ctx = context();
    const combined = AbortSignal.any([ctx.signal]);
    ctx.abort('stop');
    assert.equal(combined.aborted, true);
    assert.equal(combined.reason, 'stop');
  });
});

describe('ctx.log', () => {
  test('is a child bound to task name, node id and workflow id, made once on first use', () => {
    const { logger, lines } = memoryLogger();
    const ctx = context(logger);
    assert.equal(ctx.log, ctx.log);
    ctx.log.info({ step: 1 }, 'hello');
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.msg, 'hello');
    assert.equal(lines[0]!.task, 'math.add');
    assert.equal(lines[0]!.nodeId, 'n0');
    assert.equal(lines[0]!.workflowId, 'wf-1');
    assert.equal(lines[0]!.step, 1);
  });

  test('the other fields are plain values', () => {
    const ctx = context();
    assert.deepEqual([ctx.workflowId, ctx.nodeId, ctx.taskName, ctx.attempt, ctx.idempotencyKey], ['wf-1', 'n0', 'math.add', 2, 'wf-1/n0']);
  });
});

describe('runHandler', () => {
  test('a plain value is returned at once, with the context and arguments passed', async () => {
    const ctx = context();
    const seen: unknown[] = [];
    const outcome = runHandler(handler((c, ...args) => (seen.push(c, ...args), 'ok')), ctx, [1, 'two'], {}, new Stopper());
    assert.deepEqual(await outcome, { kind: 'returned', value: 'ok' });
    assert.deepEqual(seen, [ctx, 1, 'two']);
  });

  test('a throw, a rejection and a thenable are outcomes like any other', async () => {
    const boom = new Error('boom');
    assert.deepEqual(await runHandler(handler(() => { throw boom; }), context(), [], {}, new Stopper()), { kind: 'threw', error: boom });
    assert.deepEqual(await runHandler(handler(async () => { throw boom; }), context(), [], {}, new Stopper()), { kind: 'threw', error: boom });
    assert.deepEqual(await runHandler(handler(async () => 5), context(), [], {}, new Stopper()), { kind: 'returned', value: 5 });
    const thenable = { then: (ok: (v: unknown) => void) => ok(Promise.resolve(6)) };
    assert.deepEqual(await runHandler(handler(() => thenable), context(), [], {}, new Stopper()), { kind: 'returned', value: 6 });
  });

  test('a retry or replace asked for wins when the handler swallowed the throw', async () => {
    const retried = await runHandler(handler((c) => { try { c.retry({ countdownMs: 5 }); } catch { /* swallowed */ } return 1; }), context(), [], {}, new Stopper());
    assert.equal(retried.kind, 'retry');
    const replaced = await runHandler(handler(async (c) => { try { c.replace(sig('x')); } catch { /* swallowed */ } return 1; }), context(), [], {}, new Stopper());
    assert.equal(replaced.kind, 'replace');
  });

  test('a stop from outside ends the wait at once and aborts ctx.signal, read before or after', async () => {
    for (const readFirst of [true, false]) {
      const ctx = context();
      const outside = new Stopper();
      let signal: AbortSignal | undefined;
      const running = runHandler(handler((c) => {
        if (readFirst) signal = c.signal;
        return new Promise(() => undefined);
      }), ctx, [], {}, outside);
      outside.stop('canceled');
      assert.deepEqual(await running, { kind: 'aborted', reason: 'canceled' });
      signal ??= ctx.signal;
      assert.equal(signal.aborted, true);
      assert.equal(signal.reason, 'canceled');
    }
  });

  test('a handler that settles after the stop does not change the outcome', async () => {
    const outside = new Stopper();
    let finish!: (v: unknown) => void;
    const running = runHandler(handler(() => new Promise((resolve) => (finish = resolve))), context(), [], {}, outside);
    outside.stop('lost');
    finish(1);
    assert.deepEqual(await running, { kind: 'aborted', reason: 'lost' });
  });

  test('time limits: the soft limit aborts ctx.signal and the handler may recover; the hard limit ends the attempt', async () => {
    const ctx = context();
    const soft = await runHandler(handler((c) => new Promise((resolve) => c.signal.addEventListener('abort', () => resolve(String(c.signal.reason))))), ctx, [], { softTimeLimitMs: 1 }, new Stopper());
    assert.equal(soft.kind, 'returned');
    assert.ok(ctx.signal.reason instanceof SoftTimeLimitExceeded);
    const hardCtx = context();
    const hard = await runHandler(handler(() => new Promise(() => undefined)), hardCtx, [], { timeLimitMs: 1 }, new Stopper());
    assert.equal(hard.kind, 'threw');
    assert.ok(hard.kind === 'threw' && hard.error instanceof TimeLimitExceeded);
    assert.ok(hardCtx.signal.reason instanceof TimeLimitExceeded);
  });
});
