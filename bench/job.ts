/**
 * Child process of the bench: runs ONE figure of ONE library and sends a {@link JobResult} to the parent over
 * IPC. Connections are opened and the workload warmed up (JIT, script loading) before the measured window;
 * the window covers the workload and a 100 ms settle, so trailing acks are counted.
 * Run by bench/run.ts (`fork`); by hand: `node --import tsx bench/job.ts '<JobSpec JSON>'`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { memoryChord } from './memory-chord.js';
import { installCounters, RedisWindow } from './redis-counts.js';
import type { JobResult, JobSpec } from './spec.js';
import { startWindowProfile } from './window-profile.js';
import { braidWorkload, loadBraid } from './workloads/braid.js';
import { bullmqWorkload } from './workloads/bullmq.js';
import type { Workload } from './workloads/types.js';

const SETTLE_MS = 100;

/** Tasks the warm-up runs at least, in repeats of the measured workload (a, b, c; d has its own). */
const WARM_UP_TASKS = 10_000;

function peakRssMb(): number {
  return (process.resourceUsage().maxRSS * 1024) / 2 ** 20;
}

async function runMemoryChord(spec: JobSpec): Promise<JobResult> {
  const braid = spec.braidFrom === 'src' ? undefined : await loadBraid(spec.braidFrom);
  await memoryChord(Math.min(1_000, spec.size), spec.concurrency, braid);
  const cpu = process.cpuUsage();
  const figure = await memoryChord(spec.size, spec.concurrency, braid);
  const used = process.cpuUsage(cpu);
  return { spec, ms: figure.totalMs, tasks: spec.size + 1, cpuMs: (used.user + used.system) / 1000, peakRssMb: Math.max(figure.peakRssMb, peakRssMb()) };
}

/**
 * The measured workload first, repeated until at least {@link WARM_UP_TASKS} tasks ran (at least once), so both
 * libraries are measured warm (JIT tiered up, scripts loaded, Redis' allocations made): a smaller copy left them
 * cold, e.g. 1,000 tasks before (a)'s 20,000 (a producer-only loop costs 66 us of Node CPU per start the first
 * time through 20,000 and 27-32 us after) and a 100-chord before (b)'s 10,000. One chord of 1,000 was not enough
 * either: braid's chord of 1,000 after it cost 190 us of Node CPU per header (V8 still compiling in the window;
 * runClaimed alone 11.8 us a header, against 0.9 in the chord of 10,000). (d) runs 2,000 single tasks first, ten
 * times the 200 it measures: after 500, V8 was still compiling in the background of the measured runs (braid
 * 0.67 vs BullMQ 0.63 ms median, 1,182 vs 1,000 us of Node CPU per run; after 2,000, 0.35 vs 0.45 ms and 384 vs
 * 604 us).
 */
async function warmUp(work: Workload, spec: JobSpec): Promise<void> {
  const times = Math.max(1, Math.ceil(WARM_UP_TASKS / spec.size));
  switch (spec.kind) {
    case 'a': for (let i = 0; i < times; i += 1) await work.independent(spec.size); break;
    case 'b': for (let i = 0; i < times; i += 1) await work.chord(spec.size); break;
    case 'c': for (let i = 0; i < times; i += 1) await work.chain(spec.size); break;
    case 'd': for (let i = 0; i < 10 * spec.size; i += 1) await work.single(); break;
    case 'memory-chord': break;
  }
}

type Figure = Omit<JobResult, 'peakRssMb' | 'redis' | 'cpuMs'>;

async function measure(work: Workload, spec: JobSpec): Promise<Figure> {
  switch (spec.kind) {
    case 'a': return { spec, ...(await work.independent(spec.size)) };
    case 'b': return { spec, ...(await work.chord(spec.size)) };
    case 'c': return { spec, ...(await work.chain(spec.size)) };
    case 'd': {
      const latencies: number[] = [];
      const started = performance.now();
      for (let i = 0; i < spec.size; i += 1) latencies.push(await work.single());
      return { spec, ms: performance.now() - started, tasks: spec.size, latencies };
    }
    case 'memory-chord': throw new Error('memory-chord is measured by runMemoryChord');
  }
}

async function runRedis(spec: JobSpec): Promise<JobResult> {
  installCounters(Number(new URL(spec.redisUrl).port));
  const work = spec.lib === 'braid' ? await braidWorkload(spec) : await bullmqWorkload(spec);
  try {
    await warmUp(work, spec);
    const window = new RedisWindow(spec.redisUrl);
    await window.begin();
    const profile = await startWindowProfile(spec);
    const cpu = process.cpuUsage();
    const figure = await measure(work, spec);
    await sleep(SETTLE_MS);
    const used = process.cpuUsage(cpu);
    await profile?.stop();
    const redis = await window.end();
    return { ...figure, cpuMs: (used.user + used.system) / 1000, peakRssMb: peakRssMb(), redis };
  } finally {
    await work.close();
  }
}

async function main(): Promise<void> {
  const raw = process.argv[2];
  if (raw === undefined) throw new Error('usage: job.ts <JobSpec JSON>');
  const spec = JSON.parse(raw) as JobSpec;
  const result = spec.kind === 'memory-chord' ? await runMemoryChord(spec) : await runRedis(spec);
  if (process.send) await new Promise<void>((resolve) => process.send!(result, () => resolve()));
  else console.log(JSON.stringify(result));
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  },
);
