/**
 * Measurement behind the "Measured" table of docs/redis-data-model.md: redis-server CPU and server-side
 * commands per store call, for one-node workflows driven through the store (create, claim, complete). Not a
 * test (no `.test.ts`): run it by hand,
 *
 *   node --import tsx test/stores/redis-store-cpu.bench.ts [workflows] [in flight] [rounds]
 *
 * against a private redis-server it starts (no persistence, so the disk is not measured). Each phase runs
 * `workflows` calls, `in flight` at a time, and reads `INFO cpu` and `INFO commandstats` before and after:
 * the CPU of redis-server per call (`used_cpu_user + used_cpu_sys`), the time spent in script calls (commandstats
 * `usec` of EVALSHA/FCALL, the commands they ran included; steadier on a shared machine), and the commands it ran
 * per call, those run inside scripts included. A warm-up round comes first; each round uses fresh workflows; the
 * median round is printed (and every round with `--all`).
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { sig } from '../../src/canvas/builders.js';
import { RedisStore } from '../../src/stores/redis/redis-store.js';
import type { StoredGraph } from '../../src/stores/store.js';
import { storedGraph } from '../contracts/store/harness.js';
import { RedisServer } from '../support/redis-server.js';

interface Sample { cpuUs: number; calls: Map<string, number>; usec: Map<string, number> }

/** Commands that run a script: their `usec` in commandstats includes the commands the script ran. */
const SCRIPT_COMMANDS = new Set(['eval', 'evalsha', 'fcall']);

async function sample(admin: Redis): Promise<Sample> {
  const cpu = await admin.info('cpu');
  const user = Number(/used_cpu_user:([\d.]+)/.exec(cpu)?.[1]);
  const sys = Number(/used_cpu_sys:([\d.]+)/.exec(cpu)?.[1]);
  const calls = new Map<string, number>();
  const usec = new Map<string, number>();
  for (const m of (await admin.info('commandstats')).matchAll(/cmdstat_([^:]+):calls=(\d+),usec=(\d+)/g)) {
    calls.set(m[1]!, Number(m[2]));
    usec.set(m[1]!, Number(m[3]));
  }
  return { cpuUs: (user + sys) * 1e6, calls, usec };
}

interface Phase { name: string; cpuUs: number; scriptUs: number; commands: number; byCommand: Array<[string, number]> }

async function measure(admin: Redis, name: string, count: number, inFlight: number, call: (i: number) => Promise<unknown>): Promise<Phase> {
  const before = await sample(admin);
  for (let i = 0; i < count; i += inFlight) {
    await Promise.all(Array.from({ length: Math.min(inFlight, count - i) }, (_, j) => call(i + j)));
  }
  const after = await sample(admin);
  const byCommand: Array<[string, number]> = [];
  let commands = 0;
  let scriptUs = 0;
  for (const [cmd, n] of after.calls) {
    if (SCRIPT_COMMANDS.has(cmd)) scriptUs += (after.usec.get(cmd) ?? 0) - (before.usec.get(cmd) ?? 0);
    const delta = n - (before.calls.get(cmd) ?? 0) - (cmd === 'info' ? 2 : 0);
    if (delta <= 0) continue;
    commands += delta;
    byCommand.push([cmd, delta / count]);
  }
  byCommand.sort((a, b) => b[1] - a[1]);
  return { name, cpuUs: (after.cpuUs - before.cpuUs) / count, scriptUs: scriptUs / count, commands: commands / count, byCommand };
}

async function round(store: RedisStore, admin: Redis, graph: StoredGraph, count: number, inFlight: number): Promise<Phase[]> {
  const ids = Array.from({ length: count }, () => `cpu-${randomUUID()}`);
  const tokens = ids.map(() => randomUUID());
  const create = await measure(admin, 'create', count, inFlight, (i) => store.create(ids[i]!, graph));
  const claim = await measure(admin, 'claim', count, inFlight, (i) =>
    store.claim({ workflowId: ids[i]!, nodeId: 'n0', attempt: 1, task: 'a', token: tokens[i]!, leaseMs: 60_000 }));
  const complete = await measure(admin, 'complete', count, inFlight, async (i) => {
    const r = await store.complete({ workflowId: ids[i]!, nodeId: 'n0', token: tokens[i]!, result: `{"i":${i}}`, ignoreResult: false });
    if (r.settled !== 'succeeded') throw new Error(`not settled: ${JSON.stringify(r)}`);
  });
  return [create, claim, complete];
}

const [count = 10_000, inFlight = 500, rounds = 3] = process.argv.slice(2).filter((a) => !a.startsWith('--')).map(Number);
const server = await RedisServer.start({ appendonly: false });
const admin = new Redis(server.url);
const store = new RedisStore({ url: server.url, prefix: 'cpu' });
try {
  await store.connect();
  const graph = storedGraph(sig('a', [1]));
  await round(store, admin, graph, Math.min(count, 2_000), inFlight);
  // The settle's unindex runs off the commit path: let it finish before the next phase counts commands.
  await new Promise((r) => setTimeout(r, 200));
  const results: Phase[][] = [];
  for (let r = 0; r < rounds; r++) {
    results.push(await round(store, admin, graph, count, inFlight));
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  for (let p = 0; p < 3; p++) {
    const runs = results.map((r) => r[p]!).sort((a, b) => a.cpuUs - b.cpuUs);
    const median = runs[Math.floor(runs.length / 2)]!;
    const all = process.argv.includes('--all') ? ` (rounds: ${results.map((r) => r[p]!.cpuUs.toFixed(1)).join(', ')})` : '';
    const scripts = [...runs].sort((a, b) => a.scriptUs - b.scriptUs)[Math.floor(runs.length / 2)]!.scriptUs;
    console.log(`${median.name.padEnd(9)} ${median.cpuUs.toFixed(1).padStart(6)} µs redis CPU/call${all}, ${scripts.toFixed(1)} µs in scripts/call, ` +
      `${median.commands.toFixed(2)} server commands/call: ` +
      median.byCommand.map(([c, n]) => `${c} ${n.toFixed(2)}`).join(', '));
  }
} finally {
  await store.close();
  admin.disconnect();
  await server.stop();
}
