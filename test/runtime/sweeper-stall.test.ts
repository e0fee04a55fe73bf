/**
 * A sweep that never ends (a store call that never answers: the half-open link of
 * test/stores/redis-half-open.test.ts, or anything else) must not end a worker's sweeping: past the stall bound
 * the next tick starts another sweep beside it, and stopping the sweeper does not wait for the stalled one. No
 * server: the store is a stand-in whose first sweep never answers (what is under test is the runtime's timer).
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { Counters, type Kernel } from '../../src/runtime/kernel.js';
import { Sweeper } from '../../src/runtime/sweeper.js';
import type { SweepResult } from '../../src/stores/store.js';

/** A kernel whose store's first sweep never answers and whose later sweeps find nothing; its log lines. */
function stalledKernel(): { kernel: Kernel; calls: () => number; secondCall: Promise<void>; lines: string[] } {
  let calls = 0;
  let second: () => void = () => undefined;
  const secondCall = new Promise<void>((resolve) => (second = resolve));
  const empty: SweepResult = { ready: [], redelivered: 0, lost: 0, settled: [] };
  const store = {
    sweep: (): Promise<SweepResult> => {
      calls++;
      if (calls === 2) second();
      return calls === 1 ? new Promise<SweepResult>(() => undefined) : Promise.resolve(empty);
    },
  };
  const lines: string[] = [];
  const logger = pino({ level: 'warn' }, new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } }));
  const kernel = { store, logger, counters: new Counters() } as unknown as Kernel;
  return { kernel, calls: () => calls, secondCall, lines };
}

/** Keeps the event loop alive while `body` runs: the sweeper's own timer is unref'd, as a worker's should be. */
async function alive<T>(body: () => Promise<T>): Promise<T> {
  const keep = setInterval(() => undefined, 1_000);
  try {
    return await body();
  } finally {
    clearInterval(keep);
  }
}

describe('runtime sweeper: a stalled sweep', () => {
  test('the next tick past the stall bound starts another sweep beside it, once, and says so', { timeout: 10_000 }, () => alive(async () => {
    const { kernel, calls, secondCall, lines } = stalledKernel();
    const sweeper = new Sweeper(kernel, { intervalMs: 5, republishAfterMs: 1_000, stallMs: 40 });
    sweeper.start();
    let bound: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => (bound = setTimeout(() => reject(new Error('no second sweep within 5 s: the stalled one blocks the rest')), 5_000)));
    try {
      await Promise.race([secondCall, late]);
    } finally {
      clearTimeout(bound);
      await sweeper.stop();
    }
    assert.ok(calls() >= 2);
    assert.equal(kernel.counters.get('sweep.stalled'), 1, 'the stalled sweep was stepped past once; the next one ended');
    assert.ok(lines.some((line) => line.includes('sweep stalled')), lines.join(''));
  }));

  test('before the stall bound no second sweep starts; stop() waits for the sweep under way up to the bound', { timeout: 10_000 }, () => alive(async () => {
    const { kernel, calls } = stalledKernel();
    const sweeper = new Sweeper(kernel, { intervalMs: 5, republishAfterMs: 1_000, stallMs: 300 });
    sweeper.start();
    // The first sweep begins on the next turn (setImmediate), then the timer ticks every 5 ms.
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(calls(), 1);
    const stopped = sweeper.stop();
    // Nothing to wait on for "did not happen": a window of ticks, well inside the bound.
    const early = await Promise.race([stopped.then(() => 'stopped'), new Promise((resolve) => setTimeout(() => resolve('pending'), 50))]);
    assert.equal(early, 'pending', 'stop() waits for a sweep under way that has not stalled');
    await stopped; // returns at the bound although the stand-in never answers
    assert.equal(calls(), 1, 'no second sweep while the first was under way and not stalled, nor after stop()');
    assert.equal(kernel.counters.get('sweep.stalled'), 0);
  }));
});
