/**
 * A/B of braid builds on one figure, braid only: runs the figure's child (bench/job.ts) from each build in turn,
 * alternating, on one redis-server, and prints Node CPU and redis-server CPU per task and tasks/s per run and
 * the medians per build. For runtime changes, where BullMQ's figures are not needed and the same minutes matter.
 *
 * Usage: node --import tsx bench/ab.ts --a DIR --b DIR [--only a|b] [--size N] [--rounds 3] [--prof DIR]
 *        [--window-prof DIR] (a profile of each measured window only: bench/window-profile.ts)
 *        (DIR: src, dist, or a copy of a build under the repo, as `npm run bench -- --from`)
 */
import { fork } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { BenchRedis } from './redis-server.js';
import type { JobResult, JobSpec } from './spec.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function runJob(spec: JobSpec, prof: string | undefined, windowProf: string | undefined, label: string): Promise<JobResult> {
  const flags = prof ? ['--cpu-prof', `--cpu-prof-dir=${join(prof, `${label}-${spec.kind}-${spec.size}-${Date.now()}`)}`] : [];
  const child = fork(join(root, 'bench', 'job.ts'), [JSON.stringify(spec)], { cwd: root, execArgv: ['--import', 'tsx', ...flags], stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: windowProf ? { ...process.env, BENCH_WINDOW_PROF: join(windowProf, label) } : process.env });
  return new Promise((resolve, reject) => {
    let result: JobResult | undefined;
    child.on('message', (message) => (result = message as JobResult));
    child.on('error', reject);
    child.on('exit', (code, signal) => (result && code === 0 ? resolve(result) : reject(new Error(`${label} exited with ${signal ?? code}`))));
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

interface Row { node: number; redis: number; rate: number; writes: number; commands: number }

function row(r: JobResult): Row {
  return { node: (r.cpuMs * 1000) / r.tasks, redis: ((r.redis?.serverCpuMs ?? 0) * 1000) / r.tasks, rate: (r.tasks / r.ms) * 1000, writes: (r.redis?.clientWrites ?? 0) / r.tasks, commands: (r.redis?.clientCommands ?? 0) / r.tasks };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { a: { type: 'string' }, b: { type: 'string' }, only: { type: 'string', default: 'a' }, size: { type: 'string' }, rounds: { type: 'string', default: '3' }, prof: { type: 'string' }, 'window-prof': { type: 'string' } },
    strict: true,
  });
  if (!values.a || !values.b) throw new Error('usage: ab.ts --a DIR --b DIR [--only a|b] [--size N] [--rounds N] [--prof DIR]');
  const kind = values.only === 'b' ? 'b' : 'a';
  const size = Number(values.size ?? (kind === 'a' ? 20_000 : 10_000));
  const builds = { A: values.a, B: values.b };
  const server = await BenchRedis.start();
  const admin = new Redis(server.url);
  const rows: Record<string, Row[]> = { A: [], B: [] };
  try {
    for (let round = 0; round < Number(values.rounds); round += 1) {
      const order = round % 2 === 0 ? (['A', 'B'] as const) : (['B', 'A'] as const);
      for (const label of order) {
        await admin.flushall();
        const spec: JobSpec = { lib: 'braid', kind, size, concurrency: 100, batch: 1_000, redisUrl: server.url, braidFrom: builds[label] };
        const r = row(await runJob(spec, values.prof, values['window-prof'], label));
        rows[label]!.push(r);
        process.stderr.write(`${label} #${round + 1}: node ${r.node.toFixed(1)} us/task, redis ${r.redis.toFixed(1)} us/task, ${r.rate.toFixed(0)} tasks/s, ${r.commands.toFixed(3)} commands and ${r.writes.toFixed(3)} writes per task\n`);
      }
    }
  } finally {
    await admin.quit().catch(() => undefined);
    await server.stop();
  }
  const diffs = rows.A!.map((a, i) => (rows.B![i]?.node ?? NaN) - a.node);
  console.log(`B - A node us/task per round (runs of a round are adjacent): ${diffs.map((d) => d.toFixed(1)).join(', ')}; median ${median(diffs).toFixed(1)}`);
  for (const label of ['A', 'B'] as const) {
    const rs = rows[label]!;
    console.log(`${label} (${builds[label]}): median node ${median(rs.map((r) => r.node)).toFixed(1)} us/task, redis ${median(rs.map((r) => r.redis)).toFixed(1)} us/task, ${median(rs.map((r) => r.rate)).toFixed(0)} tasks/s; node per run ${rs.map((r) => r.node.toFixed(0)).join(', ')}`);
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
