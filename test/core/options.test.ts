/**
 * src/core/options.ts: validation at its edges (RELIABILITY §5 rows 15 and 17), merging of levels, autoretry
 * matching, and the retry delay schedule as a property.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { CanvasError } from '../../src/core/errors.js';
import {
  DEFAULT_OPTIONS, errorLineage, isAutoretried, MAX_DELAY_MS, resolveOptions, retryDelay, validateOptions, validateQueueName,
  type ResolvedOptions, type TaskOptions,
} from '../../src/core/options.js';

const ok = (o: unknown) => validateOptions(o as TaskOptions, 'test');
const bad = (o: unknown) => assert.throws(() => validateOptions(o as TaskOptions, 'test'), CanvasError, JSON.stringify(o, (_, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v)));

describe('validateOptions', () => {
  test('durations: whole ms from 0 to 2^31 - 1; negative, NaN, infinite, fractional, larger or non-numbers refused', () => {
    assert.equal(MAX_DELAY_MS, 2 ** 31 - 1);
    for (const key of ['countdownMs', 'retryDelayMs', 'retryBackoffMaxMs', 'softTimeLimitMs', 'timeLimitMs']) {
      ok({ [key]: 0 });
      ok({ [key]: MAX_DELAY_MS });
      for (const v of [-1, NaN, Infinity, -Infinity, 1.5, MAX_DELAY_MS + 1, 2 ** 31, '5', null, true]) bad({ [key]: v });
    }
  });

  test('counts: whole numbers from 0', () => {
    for (const key of ['maxRetries', 'maxRedeliveries']) {
      ok({ [key]: 0 });
      ok({ [key]: 1_000_000 });
      for (const v of [-1, 0.5, NaN, Infinity, 1_000_001, '3']) bad({ [key]: v });
    }
  });

  test('priority 0-9', () => {
    ok({ priority: 0 });
    ok({ priority: 9 });
    for (const v of [-1, 10, 1.5, NaN, '1']) bad({ priority: v });
  });

  test('queue names: non-empty, at most 255 bytes, not amq.*, a safe alphabet', () => {
    for (const q of ['default', 'a', 'emails.v2', 'a:b-c_d', 'x'.repeat(255)]) ok({ queue: q });
    for (const q of ['', 'x'.repeat(256), 'amq.direct', 'amq.', 'a b', '{tag}', 'é'.repeat(128), 'q\n', 42, null]) bad({ queue: q });
    assert.throws(() => validateQueueName('é'.repeat(128), 'app'), /255 bytes/);
    assert.throws(() => validateQueueName('amq.x', 'app'), /reserved/);
  });

  test('booleans must be booleans; autoretryFor takes classes or names', () => {
    for (const key of ['retryBackoff', 'retryJitter', 'acksLate', 'ignoreResult']) {
      ok({ [key]: false });
      bad({ [key]: 'yes' });
      bad({ [key]: 1 });
    }
    ok({ autoretryFor: [TypeError, 'Custom'] });
    bad({ autoretryFor: 'TypeError' });
    bad({ autoretryFor: [42] });
  });

  test('unknown keys and non-objects are refused, naming where', () => {
    bad({ queues: 'x' });
    bad({ leaseMs: 5 });
    bad(null);
    bad('x');
    assert.throws(() => validateOptions({ retryDelayMs: -1 }, 'sig("a").set()'), /sig\("a"\)\.set\(\): retryDelayMs/);
  });
});

describe('resolveOptions', () => {
  test('defaults are the API table', () => {
    assert.deepEqual(resolveOptions(), {
      queue: 'default', maxRetries: 3, autoretryFor: [], retryDelayMs: 1000, retryBackoff: false, retryBackoffMaxMs: 600_000,
      retryJitter: true, acksLate: true, ignoreResult: false, countdownMs: 0, maxRedeliveries: 5,
    });
    assert.ok(Object.isFrozen(DEFAULT_OPTIONS));
  });

  test('later levels win; undefined values do not erase; classes become names', () => {
    const r = resolveOptions({ queue: 'app', maxRetries: 1 }, undefined, { queue: 'task', autoretryFor: [RangeError] }, { queue: undefined, countdownMs: 5 });
    assert.equal(r.queue, 'task');
    assert.equal(r.maxRetries, 1);
    assert.equal(r.countdownMs, 5);
    assert.deepEqual(r.autoretryFor, ['RangeError']);
    resolveOptions({ autoretryFor: ['x'] }).autoretryFor.push('y');
    assert.deepEqual(resolveOptions().autoretryFor, []);
  });
});

describe('autoretry matching', () => {
  class Flaky extends Error {}
  class VeryFlaky extends Flaky {}

  test('matches the class, its subclasses and the error name', () => {
    const o = resolveOptions({ autoretryFor: [Flaky, 'Named'] });
    assert.equal(isAutoretried(o, new Flaky()), true);
    assert.equal(isAutoretried(o, new VeryFlaky()), true);
    assert.equal(isAutoretried(o, Object.assign(new Error('x'), { name: 'Named' })), true);
    assert.equal(isAutoretried(o, new Error('x')), false);
    assert.equal(isAutoretried(o, 'Flaky'), false);
    assert.equal(isAutoretried(resolveOptions(), new Flaky()), false);
  });

  test('never throws on hostile values', () => {
    const hostile = new Proxy({}, { get() { throw new Error('no'); }, getPrototypeOf() { throw new Error('no'); } });
    assert.deepEqual(errorLineage(hostile), []);
    assert.deepEqual(errorLineage(undefined), []);
    assert.equal(isAutoretried(resolveOptions({ autoretryFor: ['X'] }), hostile), false);
  });
});

describe('retryDelay', () => {
  const optsArb = fc.record({
    retryDelayMs: fc.integer({ min: 0, max: MAX_DELAY_MS }),
    retryBackoffMaxMs: fc.integer({ min: 0, max: MAX_DELAY_MS }),
  });
  const with_ = (o: Partial<ResolvedOptions>) => resolveOptions(o as TaskOptions);

  test('without backoff the delay is constant, whatever the jitter or the random source', () => {
    fc.assert(fc.property(optsArb, fc.nat(200), fc.boolean(), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (o, n, jitter, r) => {
      assert.equal(retryDelay(with_({ ...o, retryBackoff: false, retryJitter: jitter }), n, () => r), o.retryDelayMs);
    }));
  });

  test('with backoff and no jitter: min(base * 2^n, cap)', () => {
    fc.assert(fc.property(optsArb, fc.nat(200), (o, n) => {
      const want = Math.min(o.retryDelayMs * 2 ** n, o.retryBackoffMaxMs);
      assert.equal(retryDelay(with_({ ...o, retryBackoff: true, retryJitter: false }), n, () => { throw new Error('no random without jitter'); }), want);
    }));
    const o = with_({ retryDelayMs: 1000, retryBackoff: true, retryJitter: false, retryBackoffMaxMs: 600_000 });
    assert.deepEqual([0, 1, 2, 3, 9, 10, 100].map((n) => retryDelay(o, n)), [1000, 2000, 4000, 8000, 512_000, 600_000, 600_000]);
  });

  test('with backoff and jitter: a whole number within [0, computed], spanning it as random spans [0, 1)', () => {
    fc.assert(fc.property(optsArb, fc.nat(200), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (o, n, r) => {
      const computed = Math.min(o.retryDelayMs * 2 ** n, o.retryBackoffMaxMs);
      const d = retryDelay(with_({ ...o, retryBackoff: true, retryJitter: true }), n, () => r);
      assert.ok(Number.isInteger(d) && d >= 0 && d <= computed, `${d} outside [0, ${computed}]`);
    }));
    const o = with_({ retryDelayMs: 100, retryBackoff: true, retryJitter: true });
    assert.equal(retryDelay(o, 3, () => 0), 0);
    assert.equal(retryDelay(o, 3, () => 1 - Number.EPSILON), 800);
    assert.equal(retryDelay(o, 3, () => 0.5), 400);
  });
});
