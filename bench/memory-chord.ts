/**
 * Chord scaling on the embedded default: a chord of N trivial header tasks -> one body, start to result,
 * for N from 1,000 to 100,000. The cost per header node must stay flat (no step grows with the chord).
 * A 100,000-header chord has 100,001 nodes, past the default cap of 100,000 per workflow, so the app here
 * raises `limits.maxNodes`.
 */
import { pino } from 'pino';
import type * as Braid from '../src/index.js';

/** One measured chord. */
export interface ChordFigure {
  size: number;
  totalMs: number;
  perNodeUs: number;
  peakRssMb: number;
}

/**
 * Runs a chord of `size` header nodes on memory:// with one in-process worker. `module` is the braid build to
 * measure (default: src/; the bench passes dist/ when it is built).
 */
export async function memoryChord(size: number, concurrency = 64, module?: Pick<typeof Braid, 'createApp' | 'chord'>): Promise<ChordFigure> {
  const braid = module ?? (await import('../src/index.js'));
  const app = braid.createApp({ logger: pino({ level: 'silent' }), limits: { maxNodes: 200_000 } });
  const one = app.task('bench.one', (_ctx, i: number) => i);
  const count = app.task('bench.count', (_ctx, xs: number[]) => xs.length);
  const worker = app.worker({ concurrency });
  await worker.start();
  let peak = process.memoryUsage().rss;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  const header = Array.from({ length: size }, (_, i) => one.s(i));
  const started = performance.now();
  const wf = await app.start(braid.chord(header, count.s()));
  const result = await wf.result();
  const totalMs = performance.now() - started;
  clearInterval(sampler);
  if (result !== size) throw new Error(`chord of ${size} gave ${String(result)}`);
  await app.close();
  const maxRss = process.resourceUsage().maxRSS * 1024;
  return { size, totalMs, perNodeUs: (totalMs * 1000) / size, peakRssMb: Math.max(peak, maxRss, process.memoryUsage().rss) / 2 ** 20 };
}
