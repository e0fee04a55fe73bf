/**
 * Child process of the amqp rows (bench/amqp-rows.ts): runs ONE figure of braid with the amqp:// broker and
 * the bench's redis-server as store, and sends a JobResult to the parent over IPC. Same workloads, warm-up
 * and window as bench/job.ts (the Redis counts are the store's traffic only, the broker being RabbitMQ).
 * By hand: `node --import tsx bench/amqp-job.ts '<AmqpJobSpec JSON>'`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { AmqpJobSpec } from './amqp-rows.js';
import { installCounters, RedisWindow } from './redis-counts.js';
import type { JobResult } from './spec.js';
import { braidWorkload } from './workloads/braid.js';
import type { Measured, Workload } from './workloads/types.js';

const SETTLE_MS = 100;

async function warmUp(work: Workload, spec: AmqpJobSpec): Promise<void> {
  switch (spec.kind) {
    case 'a': await work.independent(Math.min(1_000, spec.size)); break;
    case 'b': await work.chord(Math.min(100, spec.size)); break;
    case 'c': await work.chain(Math.min(10, spec.size)); break;
    case 'd': for (let i = 0; i < 20; i += 1) await work.single(); break;
    default: throw new Error(`amqp rows run workloads a-d, not ${spec.kind}`);
  }
}

async function measure(work: Workload, spec: AmqpJobSpec): Promise<Measured & { latencies?: number[] }> {
  switch (spec.kind) {
    case 'a': return work.independent(spec.size);
    case 'b': return work.chord(spec.size);
    case 'c': return work.chain(spec.size);
    case 'd': {
      const latencies: number[] = [];
      const started = performance.now();
      for (let i = 0; i < spec.size; i += 1) latencies.push(await work.single());
      return { ms: performance.now() - started, tasks: spec.size, latencies };
    }
    default: throw new Error(`amqp rows run workloads a-d, not ${spec.kind}`);
  }
}

async function main(): Promise<void> {
  const raw = process.argv[2];
  if (raw === undefined) throw new Error('usage: amqp-job.ts <AmqpJobSpec JSON>');
  const spec = JSON.parse(raw) as AmqpJobSpec;
  installCounters(Number(new URL(spec.redisUrl).port));
  const work = await braidWorkload(spec, spec.amqpUrl, { store: spec.redisUrl, prefix: spec.prefix });
  let result: JobResult;
  try {
    await warmUp(work, spec);
    const window = new RedisWindow(spec.redisUrl);
    await window.begin();
    const cpu = process.cpuUsage();
    const figure = await measure(work, spec);
    await sleep(SETTLE_MS);
    const used = process.cpuUsage(cpu);
    const redis = await window.end();
    result = { spec, ...figure, cpuMs: (used.user + used.system) / 1000, peakRssMb: (process.resourceUsage().maxRSS * 1024) / 2 ** 20, redis };
  } finally {
    await work.close();
  }
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
