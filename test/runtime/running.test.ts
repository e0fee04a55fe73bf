/**
 * The worker's bookkeeping around attempts (src/runtime/running.ts, store-retry.ts): running attempts listed by
 * workflow, stopped by a cancel of their workflow or all at once by a shutdown, whatever the order they were
 * added and removed in; store calls retried on transient failures only.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { CanvasError } from '../../src/core/errors.js';
import { Counters, type Kernel } from '../../src/runtime/kernel.js';
import { Stopper } from '../../src/runtime/run-handler.js';
import { RunningAttempts } from '../../src/runtime/running.js';
import { withStoreRetries } from '../../src/runtime/store-retry.js';

describe('RunningAttempts', () => {
  test('a cancel stops every attempt of its workflow and no other, each with its own reason', () => {
    const running = new RunningAttempts();
    const [a1, a2, a3, b1] = [new Stopper(), new Stopper(), new Stopper(), new Stopper()];
    running.add('a', a1);
    running.add('a', a2);
    running.add('b', b1);
    running.add('a', a3);
    let made = 0;
    running.stopWorkflow('a', () => `canceled ${++made}`);
    assert.deepEqual([a1, a2, a3].map((s) => s.stopped), [true, true, true]);
    assert.deepEqual(new Set([a1.reason, a2.reason, a3.reason]), new Set(['canceled 1', 'canceled 2', 'canceled 3']));
    assert.equal(b1.stopped, false);
    running.stopWorkflow('none', () => 'x');
  });

  test('removal from the head, middle and tail leaves the rest listed; an empty workflow is forgotten', () => {
    for (const order of [[0, 1, 2], [1, 0, 2], [2, 1, 0], [1, 2, 0]]) {
      const running = new RunningAttempts();
      const stoppers = [new Stopper(), new Stopper(), new Stopper()];
      for (const s of stoppers) running.add('w', s);
      const [first, ...rest] = order.map((i) => stoppers[i]!);
      running.delete('w', first!);
      running.stopWorkflow('w', () => 'stop');
      assert.equal(first!.stopped, false, `order ${order.join(',')}`);
      assert.ok(rest.every((s) => s.stopped));
      for (const s of rest) running.delete('w', s);
      assert.equal(running.workflows, 0);
    }
  });

  test('a shutdown stops every attempt of every workflow', () => {
    const running = new RunningAttempts();
    const stoppers = [new Stopper(), new Stopper(), new Stopper()];
    running.add('a', stoppers[0]!);
    running.add('b', stoppers[1]!);
    running.add('b', stoppers[2]!);
    running.stopAll('shutdown');
    assert.ok(stoppers.every((s) => s.stopped && s.reason === 'shutdown'));
  });
});

describe('withStoreRetries', () => {
  const kernel = (): Kernel => ({ counters: new Counters(), logger: pino({ level: 'silent' }) }) as unknown as Kernel;

  test('a transient failure, thrown or rejected, is retried until the call succeeds', async () => {
    const k = kernel();
    let calls = 0;
    const value = await withStoreRetries(k, 'claim', () => {
      calls += 1;
      if (calls === 1) throw new Error('connection lost');
      if (calls === 2) return Promise.reject(new Error('connection lost'));
      return Promise.resolve('ok');
    });
    assert.equal(value, 'ok');
    assert.equal(calls, 3);
    assert.equal(k.counters.get('store_retry'), 2);
  });

  test('a braid error is not retried', async () => {
    const k = kernel();
    let calls = 0;
    await assert.rejects(withStoreRetries(k, 'create', () => {
      calls += 1;
      return Promise.reject(new CanvasError('bad graph'));
    }), CanvasError);
    assert.equal(calls, 1);
    assert.equal(k.counters.get('store_retry'), 0);
  });
});
