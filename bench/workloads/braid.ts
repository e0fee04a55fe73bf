/**
 * The braid side of each workload, on redis:// (or memory:// for the smoke run):
 * (a) N independent one-task workflows started with `app.start` in parallel batches (BullMQ's N independent
 * jobs), done when the worker committed the N-th outcome; (b) `chord(header, body)`; (c) `chain` of N `.s()`
 * steps; (d) `app.start(one.s())` + `wf.result()`. braid is imported from src/ (tsx) or dist/ (compiled).
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import type * as Braid from '../../src/index.js';
import type { JobSpec } from '../spec.js';
import type { Measured, Workload } from './types.js';

/** The counter the runtime bumps after storing a successful outcome (src/runtime/deliver.ts). */
const COMPLETED = 'commit.complete.ok';

/** Imports braid from where the spec says. */
export async function loadBraid(from: JobSpec['braidFrom']): Promise<typeof Braid> {
  const url = from === 'src' ? new URL('../../src/index.js', import.meta.url)
    : from === 'dist' ? new URL('../../dist/index.js', import.meta.url)
      : pathToFileURL(resolve(from, 'index.js'));
  return (await import(url.href)) as typeof Braid;
}

/**
 * Opens an app with one worker; `close()` releases it. `url` overrides the spec's Redis (memory://); `more`
 * names another store and prefix (the amqp rows: amqp:// broker, the bench's Redis as store).
 */
export async function braidWorkload(spec: JobSpec, url = spec.redisUrl, more: { store?: string; prefix?: string } = {}): Promise<Workload> {
  const { createApp, chain, chord } = await loadBraid(spec.braidFrom);
  const app = createApp({ broker: url, ...(more.store ? { store: more.store } : {}), prefix: more.prefix ?? 'bench', logger: pino({ level: 'silent' }), limits: { maxNodes: 200_000 } });
  const one = app.task('bench.one', (_ctx, i: number) => i);
  const count = app.task('bench.count', (_ctx, xs: number[]) => xs.length);
  const inc = app.task('bench.inc', (_ctx, x: number) => x + 1);
  const worker = app.worker({ concurrency: spec.concurrency });
  await worker.start();

  const untilCompleted = async (target: number): Promise<void> => {
    let last = -1;
    let still = 0;
    for (;;) {
      const now = app.counters.get(COMPLETED);
      if (now >= target) return;
      still = now === last ? still + 1 : 0;
      if (still > 30_000) throw new Error(`braid stalled at ${now}/${target} completions; counters: ${JSON.stringify(app.counters.all())}`);
      last = now;
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  };

  const independent = async (n: number): Promise<Measured> => {
    const target = app.counters.get(COMPLETED) + n;
    const started = performance.now();
    for (let from = 0; from < n; from += spec.batch) {
      const size = Math.min(spec.batch, n - from);
      await Promise.all(Array.from({ length: size }, (_, k) => app.start(one.s(from + k))));
    }
    await untilCompleted(target);
    return { ms: performance.now() - started, tasks: n };
  };

  const chordOf = async (n: number): Promise<Measured> => {
    const started = performance.now();
    const header = Array.from({ length: n }, (_, i) => one.s(i));
    const wf = await app.start(chord(header, count.s()));
    const result = await wf.result();
    const ms = performance.now() - started;
    if (result !== n) throw new Error(`braid chord of ${n} gave ${String(result)}`);
    return { ms, tasks: n + 1 };
  };

  const chainOf = async (n: number): Promise<Measured> => {
    const started = performance.now();
    const steps = [inc.s(0), ...Array.from({ length: n - 1 }, () => inc.s())];
    const wf = await app.start((chain as (...s: unknown[]) => Braid.Chain<number, Braid.NoParent>)(...steps));
    const result = await wf.result();
    const ms = performance.now() - started;
    if (result !== n) throw new Error(`braid chain of ${n} gave ${String(result)}`);
    return { ms, tasks: n };
  };

  const single = async (): Promise<number> => {
    const started = performance.now();
    const wf = await app.start(one.s(7));
    const result = await wf.result();
    const ms = performance.now() - started;
    if (result !== 7) throw new Error(`braid single task gave ${String(result)}`);
    return ms;
  };

  return { independent, chord: chordOf, chain: chainOf, single, close: () => app.close() };
}
