/**
 * Keeps `npm run bench` from rotting: runs the harness with `--quick --json` and checks that it completes and
 * reports figures. No timing is asserted (timing goals live in the benchmark, DESIGN "Tests").
 * The memory:// chord rows need nothing; the Redis row (one task, braid and BullMQ) needs `redis-server`
 * and is skipped loudly without it (a failure under BRAID_REQUIRE_SERVICES=1).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface BenchJson {
  rows: Array<{ figure: string; metric: string; braid: number | null; bullmq: number | null }>;
  memory: Array<{ size: number; totalMs: number; perNodeUs: number; peakRssMb: number }>;
  failures: string[];
}

async function bench(...args: string[]): Promise<BenchJson> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--quick', '--json', ...args], {
    cwd: root,
    maxBuffer: 64 * 1024 * 1024,
    timeout: 240_000,
  });
  return JSON.parse(stdout) as BenchJson;
}

function hasRedisServer(): boolean {
  const binary = process.env.BRAID_REDIS_SERVER;
  if (binary) return true;
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, 'redis-server'), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

it('bench --quick --only memory completes and prints the chord scaling rows', { timeout: 240_000 }, async () => {
  const out = await bench('--only', 'memory');
  assert.deepEqual(out.failures, []);
  assert.deepEqual(out.memory.map((r) => r.size), [1_000, 10_000]);
  for (const row of out.memory) {
    assert.ok(row.totalMs > 0 && row.perNodeUs > 0 && row.peakRssMb > 0, JSON.stringify(row));
  }
});

const redisSkip = hasRedisServer() || process.env.BRAID_REQUIRE_SERVICES === '1' ? false : 'SKIPPED: redis-server not found (set BRAID_REDIS_SERVER or put it on the PATH)';
if (redisSkip) process.stderr.write(`${redisSkip}: bench smoke on Redis\n`);

it('bench --quick --only d runs braid and BullMQ on its own redis-server', { skip: redisSkip, timeout: 240_000 }, async () => {
  const out = await bench('--only', 'd');
  assert.deepEqual(out.failures, []);
  const median = out.rows.find((r) => r.figure === 'd' && r.metric.includes('median'));
  assert.ok(median && median.braid !== null && median.bullmq !== null, JSON.stringify(out.rows));
  assert.ok(out.rows.some((r) => r.figure === 'f' && r.braid !== null && r.bullmq !== null), 'Redis command counts reported');
});
