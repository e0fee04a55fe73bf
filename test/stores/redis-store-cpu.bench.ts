/**
 * Measurement behind the "Measured" table of docs/redis-data-model.md: redis-server CPU and server-side
 * commands per store call, for one-node workflows driven through the store (create, claim, complete). Not a
 * test (no `.test.ts`): run it by hand,
 *
 *   node --import tsx test/stores/redis-store-cpu.bench.ts [workflows] [in flight] [rounds] [--against DIR]...
 *     [--only create|claim|complete] [--usec]
 *
 * against a private redis-server it starts (no persistence, so the disk is not measured). Each phase runs
 * `workflows` calls per round, `in flight` at a time, and reads `INFO cpu commandstats` around every batch:
 * the CPU of redis-server per call (`used_cpu_user + used_cpu_sys`) and the commands it ran per call, those
 * run inside scripts included. `complete` includes the `unindex` it sends after a settle (awaited before the
 * batch is counted as done).
 *
 * `--against DIR` (repeatable) measures the store of another source tree too (DIR/src/stores/redis), e.g. a
 * `git archive` of the previous commit: every build runs on the same server, batch after batch in turn (the
 * order rotating), so load from other processes on a shared machine falls on all of them alike. Each build
 * loads its own function library; a warm-up round comes first; the median round is printed. `--usec` adds the
 * time spent inside each command (commandstats `usec`, wall time: inflated on a loaded machine).
 */
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { sig } from '../../src/canvas/builders.js';
import type { ClaimRequest, CommitRequest, StoredGraph } from '../../src/stores/store.js';
import { storedGraph } from '../contracts/store/harness.js';
import { RedisServer } from '../support/redis-server.js';

/** What the bench needs of a RedisStore, whichever tree it comes from. */
interface BenchStore {
  connect(): Promise<void>;
  close(): Promise<void>;
  create(id: string, graph: StoredGraph): Promise<unknown>;
  claim(r: ClaimRequest): Promise<unknown>;
  complete(r: CommitRequest & { result: string; ignoreResult: boolean }): Promise<{ settled?: string }>;
  epoch(): Promise<string | null>;
  mintWorkflowId?(): string;
}
type StoreClass = new (options: { url: string; prefix: string }) => BenchStore;
interface Build { name: string; store: BenchStore }

interface Sample { cpuUs: number; calls: Map<string, number>; usec: Map<string, number> }

async function sample(admin: Redis): Promise<Sample> {
  const info = await admin.info('cpu', 'commandstats');
  const cpu = ['user', 'sys'].reduce((sum, kind) => sum + Number(new RegExp(`used_cpu_${kind}:([\\d.]+)`).exec(info)?.[1]), 0);
  const calls = new Map<string, number>();
  const usec = new Map<string, number>();
  for (const m of info.matchAll(/cmdstat_([^:]+):calls=(\d+),usec=(\d+)/g)) {
    calls.set(m[1]!, Number(m[2]));
    usec.set(m[1]!, Number(m[3]));
  }
  return { cpuUs: cpu * 1e6, calls, usec };
}

/** Totals of one build in one phase of one round. */
class Tally {
  cpuUs = 0;
  readonly calls = new Map<string, number>();
  /** Time inside each command (commandstats `usec`; a script's includes the commands it ran). */
  readonly usec = new Map<string, number>();
  add(before: Sample, after: Sample): void {
    this.cpuUs += after.cpuUs - before.cpuUs;
    for (const [cmd, n] of after.calls) {
      const delta = n - (before.calls.get(cmd) ?? 0) - (cmd === 'info' ? 1 : 0);
      if (delta > 0) this.calls.set(cmd, (this.calls.get(cmd) ?? 0) + delta);
      const time = (after.usec.get(cmd) ?? 0) - (before.usec.get(cmd) ?? 0);
      if (delta > 0 && cmd !== 'info') this.usec.set(cmd, (this.usec.get(cmd) ?? 0) + time);
    }
  }
}

const PHASES = ['create', 'claim', 'complete'] as const;
type PhaseName = (typeof PHASES)[number];

function call(store: BenchStore, phase: PhaseName, id: string, token: string, graph: StoredGraph): Promise<unknown> {
  if (phase === 'create') return store.create(id, graph);
  if (phase === 'claim') return store.claim({ workflowId: id, nodeId: 'n0', attempt: 1, task: 'a', token, leaseMs: 60_000 });
  return store.complete({ workflowId: id, nodeId: 'n0', token, result: `{"i":"${id}"}`, ignoreResult: false }).then((r) => {
    if (r.settled !== 'succeeded') throw new Error(`not settled: ${JSON.stringify(r)}`);
  });
}

/** One round: every phase, batch by batch, each build in turn. Returns tallies by phase, by build. */
async function round(builds: Build[], admin: Redis, graph: StoredGraph, count: number, inFlight: number): Promise<Map<PhaseName, Tally[]>> {
  // Ids as app.start makes them: minted by the store when it can (slot-steered, mint.ts), else random.
  const ids = builds.map(({ store }) => Array.from({ length: count }, () => store.mintWorkflowId?.() ?? `cpu-${randomUUID()}`));
  const out = new Map<PhaseName, Tally[]>();
  for (const phase of PHASES.slice(0, lastPhase + 1)) {
    const tallies = builds.map(() => new Tally());
    for (let from = 0, batch = 0; from < count; from += inFlight, batch++) {
      for (let k = 0; k < builds.length; k++) {
        const b = (batch + k) % builds.length;
        const store = builds[b]!.store;
        const before = await sample(admin);
        const part = ids[b]!.slice(from, from + inFlight);
        await Promise.all(part.map((id) => call(store, phase, id, id, graph)));
        await store.epoch(); // after every unindex this batch's settles sent on the same connection
        tallies[b]!.add(before, await sample(admin));
      }
    }
    out.set(phase, tallies);
  }
  return out;
}

const args = process.argv.slice(2);
const against = args.flatMap((a, i) => (args[i - 1] === '--against' ? [resolve(a)] : []));
const [count = 10_000, inFlight = 500, rounds = 3] = args.filter((a, i) => !a.startsWith('--') && !['--against', '--only'].includes(args[i - 1] ?? '')).map(Number);
/** `--only claim`: run the phases up to that one (each needs the one before), print that one. */
const only = PHASES.find((p) => args.some((a, i) => a === p && args[i - 1] === '--only'));
const lastPhase = only === undefined ? PHASES.length - 1 : PHASES.indexOf(only);
const trees = [resolve(new URL('../..', import.meta.url).pathname), ...against];
const server = await RedisServer.start({ appendonly: false });
const admin = new Redis(server.url);
const builds: Build[] = [];
try {
  for (const [i, tree] of trees.entries()) {
    const url = pathToFileURL(`${tree}/src/stores/redis/redis-store.ts`).href;
    const { RedisStore } = (await import(url)) as { RedisStore: StoreClass };
    const store = new RedisStore({ url: server.url, prefix: `cpu${i}` });
    await store.connect();
    builds.push({ name: i === 0 ? 'this tree' : tree, store });
  }
  const graph = storedGraph(sig('a', [1]));
  await round(builds, admin, graph, Math.min(count, 2_000), inFlight);
  const results: Array<Map<PhaseName, Tally[]>> = [];
  for (let r = 0; r < rounds; r++) results.push(await round(builds, admin, graph, count, inFlight));
  for (const phase of PHASES.filter((p) => only === undefined || p === only)) {
    for (const [b, build] of builds.entries()) {
      const runs = results.map((r) => r.get(phase)![b]!).sort((x, y) => x.cpuUs - y.cpuUs);
      const median = runs[Math.floor(runs.length / 2)]!;
      const commands = [...median.calls].sort((x, y) => y[1] - x[1]);
      const total = commands.reduce((sum, [, n]) => sum + n, 0);
      console.log(`${phase.padEnd(9)} ${(median.cpuUs / count).toFixed(1).padStart(6)} µs redis CPU/call ` +
        `(rounds: ${results.map((r) => (r.get(phase)![b]!.cpuUs / count).toFixed(1)).join(', ')}), ` +
        `${(total / count).toFixed(2)} commands/call [${build.name}]: ${commands.map(([c, n]) => `${c} ${(n / count).toFixed(2)}`).join(', ')}`);
      if (args.includes('--usec')) {
        const usec = [...median.usec].sort((x, y) => y[1] - x[1]).map(([c, t]) => `${c} ${(t / count).toFixed(1)}`);
        console.log(`          µs per call inside commands (fcall includes the rest): ${usec.join(', ')}`);
      }
    }
  }
} finally {
  for (const { store } of builds) await store.close();
  admin.disconnect();
  await server.stop();
}
