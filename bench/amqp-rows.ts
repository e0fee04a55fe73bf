/**
 * The amqp rows of `npm run bench` (figure `amqp`): braid on the same workloads (a)-(d) with the amqp://
 * broker (RabbitMQ at `BRAID_AMQP_URL`, default the local 127.0.0.1:5672, quorum queues) and the bench's own
 * redis-server as store, next to braid's figures on redis:// from the same run. One fresh child per run
 * (bench/amqp-job.ts), the Redis store flushed before each, each run under a random `benchamqp_<hex>` prefix
 * whose queues and exchanges are deleted after it. Without a reachable RabbitMQ the rows are SKIPPED loudly
 * (an error with BRAID_REQUIRE_SERVICES=1).
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createConnection } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from 'amqplib';
import { Redis } from 'ioredis';
import { deleteTopology, topologyNames } from '../src/brokers/amqp/topology.js';
import type { BenchOptions } from './args.js';
import { median, percentile } from './report.js';
import type { JobResult, JobSpec, WorkloadKind } from './spec.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const JOB_TIMEOUT_MS = 15 * 60_000;

/** What a child of the amqp rows runs. */
export interface AmqpJobSpec extends JobSpec {
  amqpUrl: string;
  /** The app prefix: queues `<prefix>.*` on RabbitMQ, keys `<prefix>:*` in the store. */
  prefix: string;
}

/** One amqp row: braid on amqp:// + Redis store beside braid on redis:// (medians). */
export interface AmqpRow {
  figure: string;
  metric: string;
  amqp: number | null;
  redis: number | null;
  /** amqp / redis. */
  ratio: number | null;
}

/** What the amqp figure produced. */
export interface AmqpFigures {
  /** Where RabbitMQ was (no credentials) and its version, or why the rows were skipped. */
  rabbitmq: string;
  rows: AmqpRow[];
  results: JobResult[];
  failures: string[];
}

function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

function reachable(url: string): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const socket = createConnection({ host: u.hostname, port: Number(u.port || 5672) });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function runJob(spec: AmqpJobSpec): Promise<JobResult> {
  const child = fork(join(root, 'bench', 'amqp-job.ts'), [JSON.stringify(spec)], { cwd: root, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    let result: JobResult | undefined;
    const timer = setTimeout(() => child.kill('SIGKILL'), JOB_TIMEOUT_MS);
    child.on('message', (message) => (result = message as JobResult));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (result && code === 0) resolve(result);
      else reject(new Error(`amqp ${spec.kind} ${spec.size} exited with ${signal ?? code}`));
    });
  });
}

async function dropTopology(amqpUrl: string, prefix: string): Promise<void> {
  const model = await connect(amqpUrl);
  try {
    await deleteTopology(model, topologyNames(prefix), ['default']);
  } finally {
    await model.close().catch(() => undefined);
  }
}

/** The workloads of the amqp rows: those of a-d the run selected, or all four with `--only amqp`. */
function workloads(options: BenchOptions): Array<{ kind: WorkloadKind; size: number }> {
  const { sizes, only } = options;
  const all: Array<{ kind: WorkloadKind; size: number }> = [
    { kind: 'a', size: sizes.independent }, ...sizes.chords.map((size) => ({ kind: 'b' as const, size })),
    { kind: 'c', size: sizes.chainSteps }, { kind: 'd', size: sizes.singles },
  ];
  const picked = all.filter((w) => only.has(w.kind as 'a' | 'b' | 'c' | 'd'));
  return picked.length > 0 ? picked : all;
}

/**
 * Runs the amqp rows against the bench's redis-server (`redisUrl`, flushed before each run); `onRedis` are the
 * results of the same run so far, for braid's redis:// figures beside them.
 */
export async function runAmqpRows(options: BenchOptions, redisUrl: string, onRedis: readonly JobResult[], log: (line: string) => void): Promise<AmqpFigures> {
  const amqpUrl = process.env.BRAID_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
  if (!(await reachable(amqpUrl))) {
    const why = `SKIPPED: the amqp rows need RabbitMQ at ${redact(amqpUrl)} (set BRAID_AMQP_URL)`;
    log(why);
    if (process.env.BRAID_REQUIRE_SERVICES === '1') throw new Error(why);
    return { rabbitmq: why, rows: [], results: [], failures: [] };
  }
  const probe = await connect(amqpUrl);
  const version = String(probe.connection.serverProperties.version ?? '?');
  await probe.close();
  const admin = new Redis(redisUrl);
  const results: JobResult[] = [];
  const failures: string[] = [];
  try {
    for (const { kind, size } of workloads(options)) {
      for (let rep = 0; rep < options.repeat; rep += 1) {
        const prefix = `benchamqp_${randomBytes(4).toString('hex')}`;
        const spec: AmqpJobSpec = { lib: 'braid', kind, size, concurrency: options.concurrency, batch: options.batch, redisUrl, braidFrom: options.braidFrom, amqpUrl, prefix };
        await admin.flushall();
        try {
          const result = await runJob(spec);
          results.push(result);
          log(`  amqp   ${kind} ${String(size).padStart(6)} #${rep + 1}: ${result.ms.toFixed(1)} ms, ${result.peakRssMb.toFixed(0)} MiB`);
        } catch (error) {
          failures.push((error as Error).message);
          log(`  amqp   ${kind} ${String(size).padStart(6)} #${rep + 1}: FAILED (${(error as Error).message})`);
        } finally {
          await dropTopology(amqpUrl, prefix).catch((error: Error) => log(`  amqp: could not delete ${prefix}.*: ${error.message}`));
        }
      }
    }
  } finally {
    await admin.quit().catch(() => undefined);
  }
  const braidOnRedis = onRedis.filter((r) => r.spec.lib === 'braid');
  return { rabbitmq: `${version} at ${redact(amqpUrl)}, quorum queues`, rows: amqpRows(results, braidOnRedis, workloads(options)), results, failures };
}

type Pick = (r: JobResult) => number | undefined;

function med(results: readonly JobResult[], kind: WorkloadKind, size: number, pick: Pick): number | null {
  const xs = results.filter((r) => r.spec.kind === kind && r.spec.size === size).map(pick).filter((x): x is number => x !== undefined && Number.isFinite(x));
  return xs.length === 0 ? null : median(xs);
}

function amqpRows(amqp: readonly JobResult[], redis: readonly JobResult[], runs: ReadonlyArray<{ kind: WorkloadKind; size: number }>): AmqpRow[] {
  const rows: AmqpRow[] = [];
  const add = (figure: string, metric: string, kind: WorkloadKind, size: number, pick: Pick): void => {
    const a = med(amqp, kind, size, pick);
    const r = med(redis, kind, size, pick);
    if (a === null && r === null) return;
    rows.push({ figure, metric, amqp: a, redis: r, ratio: a !== null && r !== null && r !== 0 ? a / r : null });
  };
  const perTask = (f: (r: JobResult) => number | undefined): Pick => (r) => { const v = f(r); return v === undefined ? undefined : v / r.tasks; };
  const fmt = (n: number): string => n.toLocaleString('en-US');
  for (const { kind, size } of runs) {
    const label = kind === 'b' ? `b ${fmt(size)}` : kind;
    if (kind === 'a') add('a', `${fmt(size)} independent tasks, tasks/s`, kind, size, (r) => (r.tasks * 1000) / r.ms);
    if (kind === 'b') add('b', `chord of ${fmt(size)}, start to result, ms`, kind, size, (r) => r.ms);
    if (kind === 'c') add('c', `chain of ${size}, ms per step`, kind, size, (r) => r.ms / r.tasks);
    if (kind === 'd') {
      add('d', `one task, median of ${size}, ms`, kind, size, (r) => (r.latencies ? median(r.latencies) : undefined));
      add('d', `one task, p99 of ${size}, ms`, kind, size, (r) => (r.latencies ? percentile(r.latencies, 99) : undefined));
    }
    add('e', `peak RSS during ${label}, MiB`, kind, size, (r) => r.peakRssMb);
    add('cpu', `${label}: node CPU per task, us`, kind, size, perTask((r) => r.cpuMs * 1000));
    add('cpu', `${label}: redis-server (store) CPU per task, us`, kind, size, perTask((r) => (r.redis ? r.redis.serverCpuMs * 1000 : undefined)));
    add('f', `${label}: Redis round trips per task`, kind, size, perTask((r) => r.redis?.clientWrites));
  }
  return rows;
}

function num(n: number | null): string {
  if (n === null) return 'n/a';
  const abs = Math.abs(n);
  const digits = abs >= 1000 ? 0 : abs >= 100 ? 1 : 2;
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** The amqp rows as a text table. */
export function renderAmqp(figures: AmqpFigures): string {
  if (figures.rows.length === 0) return `amqp rows: ${figures.rabbitmq}`;
  const head = ['fig', 'metric', 'braid amqp', 'braid redis', 'amqp/redis'];
  const body = figures.rows.map((r) => [r.figure, r.metric, num(r.amqp), num(r.redis), num(r.ratio)]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i <= 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [`amqp rows: RabbitMQ ${figures.rabbitmq}; store: the bench's redis-server`, line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}
