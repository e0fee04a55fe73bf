/**
 * The BullMQ side: the idiomatic equivalent of each braid workload, on the bench's redis-server.
 * (a) Queue.addBulk in batches + one Worker; (b) FlowProducer: a parent whose N children are the header, the
 * parent reads them with getChildrenValues; (c) a flow nested N deep (each parent waits for its one child and
 * reads its value: BullMQ's declarative chain); (d) Queue.add + job.waitUntilFinished(QueueEvents).
 */
import { FlowProducer, Queue, QueueEvents, Worker, type FlowJob, type Job } from 'bullmq';
import type { JobSpec } from '../spec.js';
import type { Measured, Workload } from './types.js';

const QUEUE = 'bench';

interface Data {
  i: number;
}

function connectionOf(url: string): { host: string; port: number; maxRetriesPerRequest: null } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port), maxRetriesPerRequest: null };
}

/** Trivial handler for every workload: header/leaf jobs return their index, parents fold their children. */
async function handler(job: Job<Data>): Promise<number> {
  if (job.name === 'one') return job.data.i;
  if (job.name === 'body') return Object.keys(await job.getChildrenValues()).length;
  if (job.name === 'step') {
    if (job.data.i === 0) return 1;
    const values = Object.values(await job.getChildrenValues()) as number[];
    return (values[0] ?? 0) + 1;
  }
  throw new Error(`unknown job ${job.name}`);
}

/** Opens queue, flow producer, events and worker; `close()` releases them all. */
export async function bullmqWorkload(spec: JobSpec): Promise<Workload> {
  const connection = connectionOf(spec.redisUrl);
  const queue = new Queue<Data>(QUEUE, { connection });
  const flows = new FlowProducer({ connection });
  const events = new QueueEvents(QUEUE, { connection });
  const worker = new Worker<Data, number>(QUEUE, handler, { connection, concurrency: spec.concurrency });
  let completed = 0;
  let waiter: { target: number; resolve: () => void } | undefined;
  worker.on('completed', () => {
    completed += 1;
    if (waiter && completed >= waiter.target) waiter.resolve();
  });
  worker.on('failed', (job, error) => console.error(`bullmq job ${job?.id} failed: ${error.message}`));
  await Promise.all([queue.waitUntilReady(), flows.waitUntilReady(), events.waitUntilReady(), worker.waitUntilReady()]);

  const untilCompleted = (target: number): Promise<void> =>
    completed >= target ? Promise.resolve() : new Promise((resolve) => (waiter = { target, resolve }));

  const independent = async (n: number): Promise<Measured> => {
    const base = completed;
    const done = untilCompleted(base + n);
    const started = performance.now();
    for (let from = 0; from < n; from += spec.batch) {
      const size = Math.min(spec.batch, n - from);
      await queue.addBulk(Array.from({ length: size }, (_, k) => ({ name: 'one', data: { i: from + k } })));
    }
    await done;
    return { ms: performance.now() - started, tasks: n };
  };

  const chordOf = async (n: number): Promise<Measured> => {
    const started = performance.now();
    const children: FlowJob[] = Array.from({ length: n }, (_, i) => ({ name: 'one', queueName: QUEUE, data: { i } }));
    const tree = await flows.add({ name: 'body', queueName: QUEUE, data: { i: -1 }, children });
    const result = await tree.job.waitUntilFinished(events);
    const ms = performance.now() - started;
    if (result !== n) throw new Error(`bullmq chord of ${n} gave ${String(result)}`);
    return { ms, tasks: n + 1 };
  };

  const chainOf = async (n: number): Promise<Measured> => {
    const started = performance.now();
    let node: FlowJob = { name: 'step', queueName: QUEUE, data: { i: 0 } };
    for (let i = 1; i < n; i += 1) node = { name: 'step', queueName: QUEUE, data: { i }, children: [node] };
    const tree = await flows.add(node);
    const result = await tree.job.waitUntilFinished(events);
    const ms = performance.now() - started;
    if (result !== n) throw new Error(`bullmq chain of ${n} gave ${String(result)}`);
    return { ms, tasks: n };
  };

  const single = async (): Promise<number> => {
    const started = performance.now();
    const job = await queue.add('one', { i: 7 });
    const result = await job.waitUntilFinished(events);
    const ms = performance.now() - started;
    if (result !== 7) throw new Error(`bullmq single task gave ${String(result)}`);
    return ms;
  };

  return {
    independent,
    chord: chordOf,
    chain: chainOf,
    single,
    close: async () => {
      await worker.close();
      await Promise.all([queue.close(), flows.close(), events.close()]);
    },
  };
}
