/**
 * `npm run bench`: braid against BullMQ on identical workloads, on ONE redis-server that the bench starts
 * itself (free loopback port, `--save '' --appendonly no`: no persistence for either library, so the figures
 * compare the libraries, not the disk), plus braid's chord scaling on memory://.
 *
 * Every figure of every library runs in a fresh child process (bench/job.ts): producer and worker in that one
 * process, same concurrency for both libraries, the server flushed before each job. Each figure runs
 * `--repeat` times (libraries alternating) and the median is reported. See bench/args.ts for the flags and
 * docs/benchmarks.md for the method and the figures.
 */
import { execFileSync, fork } from 'node:child_process';
import { cpSync, existsSync, readdirSync, statSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { renderAmqp, runAmqpRows, type AmqpFigures } from './amqp-rows.js';
import { parseBenchArgs, type BenchOptions } from './args.js';
import { BenchRedis } from './redis-server.js';
import { comparisonRows, memoryRows, renderMemory, renderRows } from './report.js';
import type { JobResult, JobSpec, Library, WorkloadKind } from './spec.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const JOB_TIMEOUT_MS = 15 * 60_000;

/** The commit measured, and whether src/ had uncommitted changes (the bench measures the working tree). */
function revision(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: root, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${head} + uncommitted src/ changes` : head;
  } catch {
    return 'unknown (no git)';
  }
}

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** Runs one job in a fresh child and returns what it measured. */
function runJob(spec: JobSpec, options: BenchOptions): Promise<JobResult> {
  // One dir per job: the main thread and tsx's loader thread each write a profile (CPU.<date>.<pid>.<tid>...).
  const prof = options.prof ? ['--cpu-prof', `--cpu-prof-dir=${join(options.prof, `${spec.lib}-${spec.kind}-${spec.size}-${Date.now()}`)}`] : [];
  const child = fork(join(root, 'bench', 'job.ts'), [JSON.stringify(spec)], {
    cwd: root,
    execArgv: ['--import', 'tsx', ...prof],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    let result: JobResult | undefined;
    const timer = setTimeout(() => child.kill('SIGKILL'), JOB_TIMEOUT_MS);
    child.on('message', (message) => (result = message as JobResult));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (result && code === 0) resolve(result);
      else reject(new Error(`${spec.lib} ${spec.kind} ${spec.size} exited with ${signal ?? code}`));
    });
  });
}

/** Non-TypeScript files under src/ (the Redis store's Lua scripts) that `tsc` does not copy to dist/. */
function assetsMissingFromDist(dir = join(root, 'src')): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return assetsMissingFromDist(path);
    if (name.endsWith('.ts')) return [];
    return existsSync(join(root, 'dist', relative(join(root, 'src'), path))) ? [] : [path];
  });
}

/** Copies them, loudly: `npm run build` should do this itself. */
function completeDist(): void {
  const missing = assetsMissingFromDist();
  if (missing.length === 0) return;
  log(`WARNING: dist/ lacks ${missing.length} non-TS file(s) under src/ (${missing.map((p) => relative(root, p)).slice(0, 3).join(', ')}${missing.length > 3 ? ', ...' : ''}): \`npm run build\` does not copy them; copying them for this run`);
  for (const path of missing) cpSync(path, join(root, 'dist', relative(join(root, 'src'), path)));
}

interface Plan {
  kind: WorkloadKind;
  size: number;
  libs: Library[];
}

function plan(options: BenchOptions): Plan[] {
  const { only, sizes } = options;
  const both: Library[] = ['braid', 'bullmq'];
  const out: Plan[] = [];
  if (only.has('a')) out.push({ kind: 'a', size: sizes.independent, libs: both });
  if (only.has('b')) for (const n of sizes.chords) out.push({ kind: 'b', size: n, libs: both });
  if (only.has('c')) out.push({ kind: 'c', size: sizes.chainSteps, libs: both });
  if (only.has('d')) out.push({ kind: 'd', size: sizes.singles, libs: both });
  if (only.has('memory')) for (const n of sizes.memoryChords) out.push({ kind: 'memory-chord', size: n, libs: ['braid'] });
  return out;
}

async function startServer(): Promise<BenchRedis | undefined> {
  try {
    return await BenchRedis.start();
  } catch (error) {
    log(`SKIPPED: the Redis figures (a-f) need redis-server on the PATH or in BRAID_REDIS_SERVER: ${(error as Error).message}`);
    if (process.env.BRAID_REQUIRE_SERVICES === '1') throw error;
    return undefined;
  }
}

async function main(): Promise<void> {
  const options = parseBenchArgs(process.argv.slice(2), root);
  const jobs = plan(options);
  if (options.braidFrom === 'dist') completeDist();
  const needsRedis = jobs.some((j) => j.kind !== 'memory-chord') || options.only.has('amqp');
  const server = needsRedis ? await startServer() : undefined;
  const admin = server ? new Redis(server.url) : undefined;
  const redisVersion = admin ? (/redis_version:(\S+)/.exec(await admin.info('server'))?.[1] ?? '?') : undefined;
  const header = {
    revision: revision(),
    node: process.version,
    cpus: `${cpus().length} x ${cpus()[0]?.model ?? '?'}`,
    redis: redisVersion ? `${redisVersion} on ${server!.url}, --save '' --appendonly no` : 'not used',
    braid: `imported from ${options.braidFrom}${options.braidFrom.endsWith('/') ? '' : '/'}`,
    concurrency: options.concurrency,
    repeat: options.repeat,
    loadBefore: loadavg().map((x) => x.toFixed(2)).join(' '),
  };
  log(`braid bench at ${header.revision}: node ${header.node}, ${header.cpus}; redis ${header.redis}; braid ${header.braid}; concurrency ${header.concurrency}; median of ${header.repeat}; load ${header.loadBefore}`);

  const results: JobResult[] = [];
  const failures: string[] = [];
  let amqp: AmqpFigures | undefined;
  try {
    for (const job of jobs) {
      if (job.kind !== 'memory-chord' && !server) continue;
      for (let rep = 0; rep < options.repeat; rep += 1) {
        const order = rep % 2 === 0 ? job.libs : [...job.libs].reverse();
        for (const lib of order) {
          const spec: JobSpec = { lib, kind: job.kind, size: job.size, concurrency: options.concurrency, batch: options.batch, redisUrl: server?.url ?? '', braidFrom: options.braidFrom };
          if (job.kind === 'memory-chord') spec.concurrency = 64;
          await admin?.flushall();
          try {
            const result = await runJob(spec, options);
            results.push(result);
            log(`  ${lib.padEnd(6)} ${job.kind} ${String(job.size).padStart(6)} #${rep + 1}: ${result.ms.toFixed(1)} ms, ${result.peakRssMb.toFixed(0)} MiB`);
          } catch (error) {
            failures.push((error as Error).message);
            log(`  ${lib.padEnd(6)} ${job.kind} ${String(job.size).padStart(6)} #${rep + 1}: FAILED (${(error as Error).message})`);
          }
        }
      }
    }
    if (options.only.has('amqp') && server) {
      amqp = await runAmqpRows(options, server.url, results, log);
      failures.push(...amqp.failures);
    }
  } finally {
    await admin?.quit().catch(() => undefined);
    await server?.stop();
  }

  const rows = comparisonRows(results, options.sizes);
  const memory = memoryRows(results, options.sizes.memoryChords);
  const loadAfter = loadavg().map((x) => x.toFixed(2)).join(' ');
  if (options.json) {
    console.log(JSON.stringify({ header: { ...header, loadAfter }, rows, memory, amqp, failures, results }, null, 2));
  } else {
    if (rows.length > 0) console.log(`\n${renderRows(rows)}`);
    if (memory.length > 0) console.log(`\n${renderMemory(memory)}`);
    if (amqp) console.log(`\n${renderAmqp(amqp)}`);
    console.log(`\nload average before ${header.loadBefore}, after ${loadAfter}${failures.length > 0 ? `\nFAILED: ${failures.join('; ')}` : ''}`);
  }
  if (failures.length > 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
