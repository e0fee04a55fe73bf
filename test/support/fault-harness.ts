/**
 * The fault-suite harness (RELIABILITY §3-4): the Redis under test, a separate ledger Redis no fault touches,
 * optional TCP fault proxies (one for the store role, one for the broker role, both in front of the same
 * redis-server), forked worker processes that are SIGKILLed and replaced, a producer app in the test process,
 * a seeded workload, the reference outcome of every workflow, and the pass criteria P1-P5 and P7 as checks that
 * collect violations (so one run reports every broken invariant, with the seed).
 *
 * @example
 * const env = await FaultEnv.start({ name: 'f1', workers: 3 });
 * const plans = drawWorkload(seed, env.prefix, 30);
 * const run = await env.run(plans, { staggerMs: 200 });
 * ... faults ...
 * const report = await env.verify(run, { faultsStoppedAt, seed });
 * await env.close();
 */
import { fork, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { createApp, type App, type Canvas, type NoParent, type WorkflowHandle } from '../../src/index.js';
import { compile } from '../../src/canvas/compile.js';
import { evaluateReference, type ReferenceResult } from '../../src/canvas/reference.js';
import { Chain, Chord, Group, Signature, type AnyCanvas } from '../../src/canvas/values.js';
import type { JsonValue } from '../../src/core/json.js';
import type { WorkflowSnapshot } from '../../src/core/snapshot.js';
import { encodeEnvelope } from '../../src/runtime/envelope.js';
import type { TransitionRecord, WorkflowOutcome } from '../../src/stores/store.js';
import { FaultProxy } from './fault-proxy.js';
import { FAN_WIDTH, FAULT_DEFAULTS, faultValue, formatMode, Ledger, registerFaultTasks, taskResult, type LedgerDump } from './fault-tasks.js';
import { RedisServer } from './redis-server.js';

const WORKER_ENTRY = fileURLToPath(new URL('./fault-worker.ts', import.meta.url));
const MAX_REDELIVERIES = 5;

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits for `promise` at most `ms`; the timer is cleared either way (no stray timer keeps the process alive). */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A small seeded PRNG (mulberry32): the harness's only randomness besides fast-check. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed of a scenario: `BRAID_FAULT_SEED` when set (to replay a failure), else random. */
export function scenarioSeed(): number {
  const fixed = process.env.BRAID_FAULT_SEED;
  return fixed !== undefined && fixed !== '' ? Number(fixed) : (Math.random() * 2 ** 31) | 0;
}

// ---------------------------------------------------------------------------------------------------------
// Workload
// ---------------------------------------------------------------------------------------------------------

/** The workload shapes of RELIABILITY §3. */
export const SHAPES = ['chain5', 'group10', 'chord20', 'nested', 'emptyHeader', 'fan'] as const;
export type Shape = (typeof SHAPES)[number];

/** One workflow to run: its canvas and the behaviour of each of its nodes (written to the ledger). */
export interface WorkflowPlan {
  id: string;
  shape: Shape | 'custom';
  canvas: AnyCanvas;
  /** Node id -> mode text (`doom`, `flaky`, `slow:<ms>`), for nodes, fan children and errbacks. */
  modes: Map<string, string>;
}

/** Rates of node behaviours. */
export interface ModeRates {
  /** Fails for good (default 0.02). */
  doom?: number;
  /** Fails its first attempt (default 0.05). */
  flaky?: number;
  /** Sleeps 600-900 ms, long enough for lease renewals (default 0.05). */
  slow?: number;
  /** At least one doomed node per workflow (F10). */
  forceDoom?: boolean;
}

const w = (label: string): Signature => new Signature('f.work', [label], false);

/** The canvas of a shape; labels make each workflow's values distinct. */
export function shapeCanvas(shape: Shape, tag: string): AnyCanvas {
  const l = (s: string): string => `${tag}.${s}`;
  let canvas: AnyCanvas;
  switch (shape) {
    case 'chain5': canvas = new Chain([0, 1, 2, 3, 4].map((i) => w(l(`c${i}`)))); break;
    case 'group10': canvas = new Group(Array.from({ length: 10 }, (_, i) => w(l(`g${i}`)))); break;
    case 'chord20': canvas = new Chord(Array.from({ length: 20 }, (_, i) => w(l(`h${i}`))), w(l('body'))); break;
    // chain(a, group(b, chain(c, d)), chord([e, f], g))
    case 'nested': canvas = new Chain([w(l('a')), new Group([w(l('b')), new Chain([w(l('c')), w(l('d'))])]), new Chord([w(l('e')), w(l('f'))], w(l('g')))]); break;
    // a chord whose header holds an empty group
    case 'emptyHeader': canvas = new Chain([w(l('a')), new Chord([new Group([]), w(l('b'))], w(l('body')))]); break;
    // a ctx.replace fan-out of 10, with a step after it
    case 'fan': canvas = new Chain([w(l('a')), new Signature('f.fan', [l('fan')], false), w(l('z'))]); break;
  }
  return canvas.onError(new Signature('f.eb', [l('eb')], true));
}

/** Draws node modes for a canvas (compile order ids), fan children included. */
export function drawModes(canvas: AnyCanvas, rng: () => number, rates: ModeRates = {}): Map<string, string> {
  const doomRate = rates.doom ?? 0.02;
  const flakyRate = rates.flaky ?? 0.05;
  const slowRate = rates.slow ?? 0.05;
  const graph = compile(canvas);
  const modes = new Map<string, string>();
  const draw = (id: string, canDoom: boolean): void => {
    const mode = {
      doom: canDoom && rng() < doomRate,
      flaky: rng() < flakyRate,
      slowMs: rng() < slowRate ? 600 + Math.floor(rng() * 300) : 0,
    };
    modes.set(id, formatMode(mode));
  };
  for (const node of graph.nodes) {
    draw(node.id, node.task !== 'f.fan');
    // A doomed fan-out child fails the replaced node (its fragment failed); replay then re-runs the child only.
    if (node.task === 'f.fan') for (let i = 0; i < FAN_WIDTH; i++) draw(`${node.id}.${i}`, true);
  }
  if (rates.forceDoom) {
    const candidates = graph.nodes.filter((n) => n.task !== 'f.fan');
    const pick = candidates[Math.floor(rng() * candidates.length)]!;
    const current = modes.get(pick.id) ?? '';
    if (!current.includes('doom')) modes.set(pick.id, current ? `doom,${current}` : 'doom');
  }
  return modes;
}

/** One workflow drawn by fast-check: a shape and a salt for its node modes. */
export interface WorkflowDraw {
  shape: Shape;
  salt: number;
}

/** `count` workflow draws from the given shapes. */
export function workloadArb(count: number, shapes: readonly Shape[] = SHAPES): fc.Arbitrary<WorkflowDraw[]> {
  return fc.array(fc.record({ shape: fc.constantFrom(...shapes), salt: fc.integer() }), { minLength: count, maxLength: count });
}

/** Turns draws into plans with ids `<idPrefix>-<i>`. */
export function buildPlans(idPrefix: string, draws: readonly WorkflowDraw[], rates: ModeRates = {}): WorkflowPlan[] {
  return draws.map((d, i) => {
    const canvas = shapeCanvas(d.shape, `w${i}`);
    return { id: `${idPrefix}-${i}`, shape: d.shape, canvas, modes: drawModes(canvas, prng(d.salt), rates) };
  });
}

/** The workload of a seed: `count` workflows over `shapes` (every shape appears when count allows). */
export function drawWorkload(seed: number, idPrefix: string, count: number, rates: ModeRates = {}, shapes: readonly Shape[] = SHAPES): WorkflowPlan[] {
  const [draws] = fc.sample(workloadArb(count, shapes), { seed, numRuns: 1 });
  // Every shape at least once (the shapes of RELIABILITY §3 are all part of "the workload").
  const out = [...draws!];
  for (let i = 0; i < shapes.length && i < count; i++) out[(i * 7919) % count] = { shape: shapes[i]!, salt: out[(i * 7919) % count]!.salt };
  return buildPlans(idPrefix, out, rates);
}

// ---------------------------------------------------------------------------------------------------------
// Reference
// ---------------------------------------------------------------------------------------------------------

/** What one node must end as. `result` undefined: not compared (errbacks get the error info). */
export interface ExpectedNode {
  task: string;
  state: 'succeeded' | 'failed' | 'blocked';
  result?: JsonValue;
  kind: 'task' | 'errback' | 'fan-child';
  /** Its handler completes (ledger commit once): succeeded nodes, and a fan-out failed by a child. */
  commits: boolean;
}

/** What a workflow must end as. */
export interface Expected {
  id: string;
  state: 'succeeded' | 'failed';
  result?: JsonValue;
  nodes: Map<string, ExpectedNode>;
  /** Task nodes that fail for good. */
  failed: Set<string>;
  /** Fan-in nodes (two or more dependencies: chord bodies and what follows a group). */
  fanIn: string[];
  /** Errback node ids that must run once. */
  errbacks: string[];
  reference: ReferenceResult;
}

/** The reference outcome of a plan; `fixed` treats doomed nodes as fixed (F10 after the fix). */
export function expectedOf(plan: WorkflowPlan, fixed = false): Expected {
  const doomed = (id: string): boolean => !fixed && (plan.modes.get(id) ?? '').split(',').includes('doom');
  const children = (id: string): string[] => Array.from({ length: FAN_WIDTH }, (_, i) => `${id}.${i}`);
  // By hand for `f.fan`: it runs, replaces itself, and takes its children's results, or fails when one fails.
  const reference = evaluateReference(plan.canvas, (task, args, nodeId) => {
    if (doomed(nodeId)) return { error: `${nodeId} doomed` };
    if (task === 'f.fan' && children(nodeId).some(doomed)) return { error: `a child of ${nodeId} doomed` };
    return { ok: faultValue(task, args) };
  });
  const graph = compile(plan.canvas);
  const nodes = new Map<string, ExpectedNode>();
  const failed = new Set<string>();
  for (const [id, n] of reference.nodes) {
    nodes.set(id, { task: n.task, state: n.state, kind: 'task', commits: n.state === 'succeeded', ...(n.state === 'succeeded' ? { result: n.result! } : {}) });
    if (n.state === 'failed') failed.add(id);
    if (n.task === 'f.fan' && n.state !== 'blocked') {
      // Every child runs (siblings of a failed child finish); a failed fan is reported through its failed
      // children, not again itself (its failure is theirs).
      const label = n.args[n.args.length - 1] ?? null;
      for (const [i, child] of children(id).entries()) {
        if (doomed(child)) {
          nodes.set(child, { task: 'f.work', state: 'failed', kind: 'fan-child', commits: false });
          failed.add(child);
        } else nodes.set(child, { task: 'f.work', state: 'succeeded', kind: 'fan-child', commits: true, result: taskResult('f.work', [label, i]) });
      }
      failed.delete(id);
      nodes.get(id)!.commits = true;
    }
  }
  const errbacks: string[] = [];
  reference.errbacksFired.forEach((fired, i) => {
    if (!fired) return;
    errbacks.push(`e${i}`);
    nodes.set(`e${i}`, { task: graph.errbacks[i]!.task, state: 'succeeded', kind: 'errback', commits: true });
  });
  return {
    id: plan.id, state: reference.state, nodes, failed, errbacks, reference,
    fanIn: graph.nodes.filter((n) => n.deps.length >= 2).map((n) => n.id),
    ...(reference.state === 'succeeded' ? { result: reference.result! } : {}),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Worker processes
// ---------------------------------------------------------------------------------------------------------

/** How workers are configured. */
export interface WorkerSettings {
  concurrency: number;
  leaseMs: number;
  sweepIntervalMs: number;
  republishAfterMs: number;
  retentionMs: number;
  logLevel: string;
}

interface WorkerProc {
  id: number;
  child: ChildProcess;
  pid: number;
  crashAt: string | undefined;
  ready: boolean;
  killedByHarness: boolean;
  stopping: boolean;
  exited: Promise<void>;
  counters: Record<string, number>;
}

/** Forked workers: started, killed (SIGKILL of the process group), replaced. */
export class WorkerPool {
  private nextId = 0;
  private readonly procs = new Map<number, WorkerProc>();
  private readonly finished: Record<string, number>[] = [];
  private readonly spawning = new Set<Promise<unknown>>();
  /** Crash points handed to the next spawned workers, in order (`point` or `point,n`). */
  readonly crashPlan: string[] = [];
  /** SIGKILLs sent by the harness. */
  kills = 0;
  /** Workers that SIGKILLed themselves at an armed crash point, by point. */
  readonly crashKills = new Map<string, number>();
  /** Exits nobody asked for (crashes, crash loops): always a failure. */
  readonly unexpectedExits: string[] = [];
  /** Replace workers that die while this is true. */
  replacing = true;
  /** Workers started in all. */
  spawned = 0;
  /** Workers started armed at a crash point. */
  armed = 0;
  /** When the last worker died by a kill or a crash point (epoch ms; 0 = never). */
  lastFaultAt = 0;

  private readonly t0 = Date.now();

  constructor(private readonly env: Record<string, string>, public settings: WorkerSettings, private readonly logDir: string) {}

  /** Appends a line to the pool's event log (logDir/pool.log): spawns, readiness, kills, exits, faults. */
  event(text: string): void {
    appendFileSync(join(this.logDir, 'pool.log'), `${String(Date.now() - this.t0).padStart(7)} ms  ${text}\n`);
  }

  /** Starts `n` workers and waits until each is consuming. */
  async start(n: number): Promise<void> {
    await Promise.all(Array.from({ length: n }, () => this.spawn()));
  }

  /** Live workers. */
  get live(): number {
    return [...this.procs.values()].filter((p) => !p.stopping).length;
  }

  /** Kills + crash-point kills. */
  get totalKills(): number {
    let crashes = 0;
    for (const n of this.crashKills.values()) crashes += n;
    return this.kills + crashes;
  }

  /** Forks one worker (armed with the next crash point of the plan, if any) and waits until it is ready. */
  spawn(): Promise<void> {
    const id = this.nextId++;
    const crashAt = this.crashPlan.shift();
    const fd = openSync(join(this.logDir, `worker-${id}.log`), 'a');
    const s = this.settings;
    const child = fork(WORKER_ENTRY, [], {
      execArgv: ['--import', 'tsx'],
      detached: true,
      stdio: ['ignore', fd, fd, 'ipc'],
      env: {
        ...process.env,
        ...this.env,
        BRAID_FAULT_CONCURRENCY: String(s.concurrency),
        BRAID_FAULT_LEASE_MS: String(s.leaseMs),
        BRAID_FAULT_SWEEP_MS: String(s.sweepIntervalMs),
        BRAID_FAULT_REPUBLISH_MS: String(s.republishAfterMs),
        BRAID_FAULT_RETENTION_MS: String(s.retentionMs),
        BRAID_FAULT_LOG_LEVEL: s.logLevel,
        BRAID_TEST_CRASH_AT: crashAt ?? '',
      },
    });
    closeSync(fd);
    this.spawned++;
    if (crashAt) this.armed++;
    let onReady!: () => void;
    let onFail!: (e: Error) => void;
    const ready = new Promise<void>((resolve, reject) => {
      onReady = resolve;
      onFail = reject;
    });
    const proc: WorkerProc = {
      id, child, pid: child.pid!, crashAt: crashAt || undefined, ready: false, killedByHarness: false, stopping: false, counters: {},
      exited: new Promise((resolve) => child.once('exit', () => resolve())),
    };
    allChildren.add(child);
    this.procs.set(id, proc);
    child.on('message', (message: { type?: string; counters?: Record<string, number> }) => {
      if (message.type === 'ready') {
        this.event(`worker ${id} ready${proc.crashAt ? ` (armed ${proc.crashAt})` : ''}`);
        proc.ready = true;
        onReady();
      } else if (message.type === 'counters' && message.counters) proc.counters = message.counters;
    });
    child.on('error', () => undefined);
    child.once('exit', (code, signal) => {
      this.event(`worker ${id} exited ${signal ?? code}${proc.killedByHarness ? ' (killed)' : proc.stopping ? ' (stopped)' : proc.crashAt ? ` (crash point ${proc.crashAt})` : ''}`);
      allChildren.delete(child);
      this.procs.delete(id);
      this.finished.push(proc.counters);
      if (!proc.ready) onFail(new Error(`worker ${id} exited (${signal ?? code}) before it was ready; see ${join(this.logDir, `worker-${id}.log`)}`));
      if (proc.killedByHarness || proc.stopping) {
        if (proc.stopping && code !== 0 && !proc.killedByHarness) this.unexpectedExits.push(`worker ${id} exited ${signal ?? code} on SIGTERM`);
      } else if (signal === 'SIGKILL' && proc.crashAt) {
        this.lastFaultAt = Date.now();
        const point = proc.crashAt.split(',')[0]!;
        this.crashKills.set(point, (this.crashKills.get(point) ?? 0) + 1);
      } else {
        this.unexpectedExits.push(`worker ${id} (pid ${proc.pid}) exited ${signal ?? code}; see ${join(this.logDir, `worker-${id}.log`)}`);
      }
      if (this.replacing && !proc.stopping) this.track(this.spawn());
    });
    const timer = setTimeout(() => onFail(new Error(`worker ${id} not ready within 60 s`)), 60_000);
    return ready.finally(() => clearTimeout(timer));
  }

  private track(p: Promise<unknown>): void {
    const guarded = p.catch((error: Error) => this.unexpectedExits.push(`replacement failed: ${error.message}`));
    this.spawning.add(guarded);
    void guarded.finally(() => this.spawning.delete(guarded));
  }

  /**
   * SIGKILLs one live, ready worker (its whole process group); it is replaced when `replacing`. Workers armed
   * at a crash point are spared while an unarmed one is there, so the armed ones get to reach their point.
   */
  killOne(rng: () => number, minReady = 1): boolean {
    const ready = [...this.procs.values()].filter((p) => p.ready && !p.stopping && !p.killedByHarness);
    const unarmed = ready.filter((p) => !p.crashAt);
    const candidates = unarmed.length > 0 ? unarmed : ready;
    if (candidates.length === 0 || ready.length < minReady) return false;
    const victim = candidates[Math.floor(rng() * candidates.length)]!;
    victim.killedByHarness = true;
    this.event(`kill worker ${victim.id}`);
    this.kills++;
    this.lastFaultAt = Date.now();
    try {
      process.kill(-victim.pid, 'SIGKILL');
    } catch {
      victim.child.kill('SIGKILL');
    }
    return true;
  }

  /** Waits until replacements under way are ready (or failed). */
  async settleSpawns(): Promise<void> {
    while (this.spawning.size > 0) await Promise.all([...this.spawning]);
  }

  /** Stops every worker: SIGTERM (graceful), SIGKILL after `graceMs`. No replacements. */
  async stopAll(graceMs = 10_000): Promise<void> {
    this.replacing = false;
    await this.settleSpawns();
    const procs = [...this.procs.values()];
    for (const p of procs) {
      p.stopping = true;
      p.child.kill('SIGTERM');
    }
    await Promise.all(procs.map(async (p) => {
      const timer = setTimeout(() => {
        p.killedByHarness = true;
        try {
          process.kill(-p.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }, graceMs);
      await p.exited;
      clearTimeout(timer);
    }));
  }

  /** Last reported counters of each live, ready worker, by worker id. */
  liveCounters(): Map<number, Record<string, number>> {
    return new Map([...this.procs.values()].filter((p) => p.ready && !p.stopping && !p.killedByHarness).map((p) => [p.id, { ...p.counters }]));
  }

  /** Counters summed over every worker, live and gone (a killed worker's count is its last report). */
  counters(): Record<string, number> {
    const sum: Record<string, number> = {};
    for (const c of [...this.finished, ...[...this.procs.values()].map((p) => p.counters)]) {
      for (const [k, v] of Object.entries(c)) sum[k] = (sum[k] ?? 0) + v;
    }
    return sum;
  }
}

const allChildren = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of allChildren) {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  }
});

// ---------------------------------------------------------------------------------------------------------
// The environment
// ---------------------------------------------------------------------------------------------------------

/** What a scenario asks for. */
export interface FaultEnvOptions {
  /** Scenario name (prefix and log dir). */
  name: string;
  /** Store and broker through two fault proxies (default false). */
  proxies?: boolean;
  /** Workers started by `start()` (default 3). */
  workers?: number;
  concurrency?: number;
  leaseMs?: number;
  sweepIntervalMs?: number;
  republishAfterMs?: number;
  retentionMs?: number;
  /** Producer's `result()` poll fallback (default 500). */
  resultPollMs?: number;
  /** Worker log level (default `BRAID_FAULT_LOG_LEVEL` or warn). */
  logLevel?: string;
  /** Another broker than the Redis under test (e.g. RabbitMQ: test/support/amqp-fault.ts); the store stays Redis. */
  broker?: BrokerUnderTest;
}

/** A broker other than the Redis under test, as the harness sees it. */
export interface BrokerUnderTest {
  /** URL the producer and workers use. */
  readonly url: string;
  /** Messages still held under `prefix`: ready, unacked or delayed (`left`), and dead letters. */
  counts(prefix: string): Promise<{ left: number; dead: number }>;
  /** Removes what the run declared under `prefix` (after every app closed). */
  cleanup(prefix: string): Promise<void>;
}

/** One workflow being run: its plan, expectation and the data captured the moment it settled. */
export interface Tracked {
  plan: WorkflowPlan;
  expected: Expected;
  handle: WorkflowHandle<unknown>;
  startedAt: number;
  /** Resolves once settled and captured (never rejects: failures are recorded in `error`). */
  done: Promise<void>;
  settledAt?: number;
  outcome?: WorkflowOutcome;
  snapshot?: WorkflowSnapshot;
  history?: TransitionRecord[];
  error?: string;
}

/** Figures of one run, for the report. */
export interface Figures {
  [name: string]: number | string | Record<string, number>;
}

/** The Redis under test, the ledger, proxies, workers and a producer. */
export class FaultEnv {
  readonly prefix: string;
  readonly logDir: string;
  /** Store URL the apps use (through the store proxy when there is one). */
  readonly storeUrl: string;
  /** Broker URL the apps use (through the broker proxy when there is one). */
  readonly brokerUrl: string;
  readonly producer: App;
  readonly ledger: Ledger;
  readonly pool: WorkerPool;
  /** Direct connection to the Redis under test, for inspection (SCAN, INFO); never through a proxy. */
  readonly admin: Redis;
  /** Settle notifications the producer heard, by workflow. */
  readonly settleEvents = new Map<string, number>();
  /** Cuts, partitions and other proxy events done by the scenario (for the report). */
  readonly faults: Record<string, number> = {};
  readonly options: Required<Omit<FaultEnvOptions, 'proxies' | 'broker'>> & { proxies: boolean };
  /** The broker when it is not the Redis under test. */
  readonly remoteBroker: BrokerUnderTest | undefined;
  private unsubscribe: (() => void) | undefined;

  private constructor(
    options: FaultEnvOptions,
    readonly redis: RedisServer,
    readonly ledgerServer: RedisServer,
    readonly storeProxy: FaultProxy | undefined,
    readonly brokerProxy: FaultProxy | undefined,
  ) {
    const leaseMs = options.leaseMs ?? 1_500;
    this.options = {
      name: options.name, proxies: options.proxies ?? false, workers: options.workers ?? 3, concurrency: options.concurrency ?? 4,
      leaseMs, sweepIntervalMs: options.sweepIntervalMs ?? Math.floor(leaseMs / 2), republishAfterMs: options.republishAfterMs ?? 2 * leaseMs,
      retentionMs: options.retentionMs ?? 5_000, resultPollMs: options.resultPollMs ?? 500,
      logLevel: options.logLevel ?? process.env.BRAID_FAULT_LOG_LEVEL ?? 'warn',
    };
    this.prefix = `ft_${options.name}_${Math.random().toString(36).slice(2, 8)}`;
    this.logDir = join(process.env.BRAID_FAULT_LOG_DIR ?? join(tmpdir(), 'braid-faults'), this.prefix);
    mkdirSync(this.logDir, { recursive: true });
    this.storeUrl = storeProxy ? storeProxy.url('redis', '/0') : `${redis.url}/0`;
    this.remoteBroker = options.broker;
    this.brokerUrl = options.broker ? options.broker.url : brokerProxy ? brokerProxy.url('redis', '/0') : `${redis.url}/0`;
    this.ledger = new Ledger(`${ledgerServer.url}/0`, this.prefix);
    this.admin = new Redis(`${redis.url}/0`, { maxRetriesPerRequest: null });
    this.admin.on('error', () => undefined);
    this.producer = this.makeProducer();
    this.pool = new WorkerPool({
      BRAID_FAULT_STORE: this.storeUrl, BRAID_FAULT_BROKER: this.brokerUrl, BRAID_FAULT_LEDGER: `${ledgerServer.url}/0`, BRAID_FAULT_PREFIX: this.prefix,
    }, {
      concurrency: this.options.concurrency, leaseMs, sweepIntervalMs: this.options.sweepIntervalMs, republishAfterMs: this.options.republishAfterMs,
      retentionMs: this.options.retentionMs, logLevel: this.options.logLevel,
    }, this.logDir);
  }

  private producers = 0;
  private readonly extraApps: App[] = [];

  /**
   * A producer app on the same URLs, prefix and tasks (not connected until first used; closed with the env).
   * The env's own `producer` is the first one.
   */
  makeProducer(): App {
    const n = this.producers++;
    const logger = pino({ level: this.options.logLevel }, pino.destination({ dest: join(this.logDir, n === 0 ? 'producer.log' : `producer-${n}.log`), sync: true }));
    const app = createApp({
      broker: this.brokerUrl, store: this.storeUrl, prefix: this.prefix, logger, storeHistory: true,
      retentionMs: this.options.retentionMs, resultPollMs: this.options.resultPollMs, defaults: FAULT_DEFAULTS,
    });
    registerFaultTasks(app, this.ledger);
    if (n > 0) this.extraApps.push(app);
    return app;
  }

  /** Starts servers, proxies, the producer (connected, subscribed to settle events) and the workers. */
  static async start(options: FaultEnvOptions): Promise<FaultEnv> {
    const [redis, ledgerServer] = await Promise.all([RedisServer.start(), RedisServer.start({ appendonly: false })]);
    const storeProxy = options.proxies ? await FaultProxy.start({ port: redis.port }) : undefined;
    const brokerProxy = options.proxies ? await FaultProxy.start({ port: redis.port }) : undefined;
    const env = new FaultEnv(options, redis, ledgerServer, storeProxy, brokerProxy);
    const kernel = await env.producer.kernel();
    env.unsubscribe = await kernel.store.subscribe((event) => {
      if (event.type === 'settled') env.settleEvents.set(event.workflowId, (env.settleEvents.get(event.workflowId) ?? 0) + 1);
    });
    await env.pool.start(env.options.workers);
    return env;
  }

  /** Counts a fault event for the report. */
  count(fault: string, by = 1): void {
    this.pool.event(fault);
    this.faults[fault] = (this.faults[fault] ?? 0) + by;
  }

  /** Writes the plans' node modes to the ledger and starts them, `staggerMs` apart; returns the tracked runs. */
  async run(
    plans: readonly WorkflowPlan[],
    options: { staggerMs?: number; fixed?: boolean; onStart?: (t: Tracked) => void; together?: boolean } = {},
  ): Promise<Tracked[]> {
    for (const plan of plans) {
      await this.ledger.setModes(new Map([...plan.modes].map(([node, mode]) => [`${plan.id}/${node}`, mode])));
    }
    const startOne = async (plan: WorkflowPlan): Promise<Tracked> => {
      const handle = await this.producer.start(plan.canvas as Canvas<unknown, NoParent>, { workflowId: plan.id });
      this.pool.event(`started ${plan.id} (${plan.shape})`);
      const t = this.track(plan, handle, expectedOf(plan, options.fixed ?? false));
      options.onStart?.(t);
      return t;
    };
    // `together`: every start in the same tick, so the store may create them in one call (ids of one slot).
    if (options.together === true) return Promise.all(plans.map(startOne));
    const tracked: Tracked[] = [];
    for (const [i, plan] of plans.entries()) {
      if (i > 0 && options.staggerMs) await sleep(options.staggerMs);
      tracked.push(await startOne(plan));
    }
    return tracked;
  }

  /**
   * `n` fresh workflow ids minted by the producer's store in one tick: on Redis they share a hash slot, so their
   * transitions may travel together in one function call (redis-store.ts); elsewhere `fallback(i)`.
   */
  async mintIds(n: number, fallback: (i: number) => string): Promise<string[]> {
    const store = (await this.producer.kernel()).store;
    return Array.from({ length: n }, (_, i) => store.mintWorkflowId?.() ?? fallback(i));
  }

  /** Follows a started (or replayed) workflow until it settles, then captures outcome, snapshot and history at once. */
  track(plan: WorkflowPlan, handle: WorkflowHandle<unknown>, expected: Expected): Tracked {
    const t: Tracked = { plan, expected, handle, startedAt: Date.now(), done: Promise.resolve() };
    t.done = (async () => {
      try {
        const outcome = await handle.settled();
        t.settledAt = Date.now();
        this.pool.event(`settled ${plan.id} ${outcome.state}`);
        t.outcome = outcome;
        const store = (await this.producer.kernel()).store;
        const [snapshot, history] = await Promise.all([store.snapshot(plan.id), store.history(plan.id)]);
        if (!snapshot) throw new Error('snapshot gone before capture (retention too short?)');
        t.snapshot = snapshot;
        t.history = history;
      } catch (error) {
        t.error = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      }
    })();
    return t;
  }

  /**
   * P1: waits until every tracked workflow settled, at most until `faultsStoppedAt + 2 × leaseMs + one sweep
   * interval + republishAfterMs` (a message lost between commit and publish waits that long for the sweeper)
   * `+ slackMs` (the work still to do once faults stop). Returns the recovery time.
   */
  async settleAll(runs: readonly Tracked[], faultsStoppedAt: number, slackMs = 10_000): Promise<{ recoveryMs: number; boundMs: number; unsettled: string[] }> {
    const boundMs = 2 * this.options.leaseMs + this.options.sweepIntervalMs + this.options.republishAfterMs + slackMs;
    const deadline = faultsStoppedAt + boundMs;
    await within(Promise.all(runs.map((r) => r.done)), Math.max(0, deadline - Date.now()));
    const unsettled = runs.filter((r) => r.settledAt === undefined && r.error === undefined).map((r) => r.plan.id);
    const last = Math.max(faultsStoppedAt, ...runs.map((r) => r.settledAt ?? 0));
    return { recoveryMs: last - faultsStoppedAt, boundMs, unsettled };
  }

  /** Non-final nodes of an unsettled workflow, for a failure message. */
  async describeUnsettled(ids: readonly string[]): Promise<string[]> {
    const store = (await this.producer.kernel()).store;
    const out: string[] = [];
    for (const id of ids.slice(0, 10)) {
      const snap = await within(store.snapshot(id), 2_000).catch((e: Error) => e.message);
      if (snap === null || typeof snap === 'string') {
        out.push(`${id}: ${snap ?? 'missing'}`);
        continue;
      }
      const open = snap.nodes.filter((n) => !['succeeded', 'failed', 'blocked', 'canceled'].includes(n.state));
      out.push(`${id} ${snap.state}: ${open.map((n) => `${n.id}=${n.state}(att ${n.attempts}, redeliv ${n.redeliveries})`).join(' ')}`);
    }
    return out;
  }

  /**
   * P6: every live worker completes a task within `leaseMs + 5 s`. Runs a group of 24 slow (250 ms) nodes —
   * more than one worker's concurrency can take at once, so every consuming worker gets some — and checks that
   * each worker live before and after completed at least one. Returns the probe run (check it with the others).
   */
  async livenessProbe(label: string, violations: string[]): Promise<Tracked> {
    const before = this.pool.liveCounters();
    const canvas = new Group(Array.from({ length: 24 }, (_, i) => w(`${label}.p${i}`))).onError(new Signature('f.eb', [`${label}.eb`], true));
    const modes = new Map(compile(canvas).nodes.map((n) => [n.id, 'slow:250']));
    const plan: WorkflowPlan = { id: `${this.prefix}-${label}`, shape: 'custom', canvas, modes };
    const t0 = Date.now();
    const [run] = await this.run([plan]);
    const bound = this.options.leaseMs + 5_000;
    await within(run!.done, bound);
    await sleep(400); // the workers' next counter reports
    const after = this.pool.liveCounters();
    const done = (c: Record<string, number> | undefined): number => c?.['commit.complete.ok'] ?? 0;
    if (run!.settledAt === undefined) violations.push(`P6 ${label}: the liveness probe did not settle within ${bound} ms`);
    for (const [id, c] of before) {
      if (!after.has(id)) continue;
      if (done(after.get(id)) <= done(c)) violations.push(`P6 ${label}: worker ${id} completed nothing within ${Date.now() - t0} ms (consumer wedged?)`);
    }
    this.pool.event(`liveness probe ${label}: ${Date.now() - t0} ms, ${before.size} workers`);
    return run!;
  }

  /** Publishes an extra copy of a node's envelope straight through the broker (F6, F9). */
  async publishCopy(workflowId: string, nodeId: string, task: string, attempt: number, queue = 'default', delayMs = 0): Promise<void> {
    const kernel = await this.producer.kernel();
    await kernel.broker.publish(queue, encodeEnvelope({ workflowId, nodeId, task, attempt }), delayMs > 0 ? { delayMs } : {});
  }

  /**
   * Waits until the broker's queues under this prefix hold no ready, in-flight or delayed entries (every
   * message, duplicates included, was consumed and acked). Returns what is left after `boundMs`, and the
   * number of dead letters.
   */
  async drained(boundMs: number): Promise<{ left: number; dead: number }> {
    const deadline = Date.now() + boundMs;
    for (;;) {
      const { left, dead } = await this.queueCounts();
      if (left === 0 || Date.now() > deadline) return { left, dead };
      await sleep(200);
    }
  }

  private async queueCounts(): Promise<{ left: number; dead: number }> {
    if (this.remoteBroker) return this.remoteBroker.counts(this.prefix);
    let left = 0;
    let dead = 0;
    for (const key of await this.scan(`${this.prefix}:q:*`)) {
      const type = await this.admin.type(key);
      if (key.endsWith(':marker')) continue;
      const n = type === 'list' ? await this.admin.llen(key) : type === 'zset' ? await this.admin.zcard(key) : type === 'stream' ? await this.admin.xlen(key) : 0;
      if (key.endsWith(':dead')) dead += n;
      else left += n;
    }
    return { left, dead };
  }

  /** Every key matching a pattern (SCAN on the direct connection). */
  async scan(pattern: string): Promise<string[]> {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.admin.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    return keys;
  }

  /**
   * P7: waits up to `boundMs` until no key carries the hash tag of any of these workflows, and no set, sorted
   * set or hash outside the tags (the store's indexes) still names one of them. Returns what is left.
   */
  async leftovers(ids: readonly string[], boundMs: number): Promise<string[]> {
    const deadline = Date.now() + boundMs;
    const wanted = new Set(ids);
    for (;;) {
      const left: string[] = [];
      for (const key of await this.scan(`{${this.prefix}:*`)) {
        const id = key.slice(this.prefix.length + 2, key.indexOf('}'));
        if (wanted.has(id)) left.push(key);
      }
      for (const key of await this.scan(`${this.prefix}:*`)) {
        if (key.startsWith(`${this.prefix}:q:`)) continue;
        const type = await this.admin.type(key);
        for (const id of ids) {
          const named = type === 'zset' ? (await this.admin.zscore(key, id)) !== null
            : type === 'set' ? (await this.admin.sismember(key, id)) === 1
              : type === 'hash' ? (await this.admin.hexists(key, id)) === 1 : false;
          if (named) left.push(`${key} names ${id}`);
        }
      }
      if (left.length === 0 || Date.now() > deadline) return left;
      await sleep(250);
    }
  }

  /**
   * Calls so far on the server under test (INFO commandstats): `scripts` counts script invocations (EVAL,
   * EVALSHA, FCALL), `commands` every command, those run inside scripts included.
   */
  async commandCalls(): Promise<{ scripts: number; commands: number }> {
    const info = await this.admin.info('commandstats');
    let scripts = 0;
    let commands = 0;
    for (const m of info.matchAll(/^cmdstat_([a-z|_]+):calls=(\d+)/gm)) {
      commands += Number(m[2]);
      if (['eval', 'evalsha', 'eval_ro', 'evalsha_ro', 'fcall', 'fcall_ro'].includes(m[1]!)) scripts += Number(m[2]);
    }
    return { scripts, commands };
  }

  /** Stops workers (gracefully), producer, proxies and servers. */
  async close(): Promise<void> {
    this.pool.replacing = false;
    await this.pool.stopAll(5_000).catch(() => undefined);
    this.unsubscribe?.();
    // Bounded: against a crashed redis-server an app's close would wait on its clients' endless retries.
    await Promise.all([this.producer, ...this.extraApps].map((app) => Promise.race([app.close().catch(() => undefined), sleep(10_000)])));
    await this.ledger.close();
    this.admin.disconnect();
    await Promise.all([this.storeProxy?.close(), this.brokerProxy?.close()]);
    await this.remoteBroker?.cleanup(this.prefix).catch(() => undefined);
    await Promise.all([this.redis.stop(), this.ledgerServer.stop()]);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Pass criteria
// ---------------------------------------------------------------------------------------------------------

const FINAL = new Set(['succeeded', 'failed', 'blocked', 'canceled']);

/** What the checks compare against besides the runs. */
export interface CheckContext {
  ledger: LedgerDump;
  /** Kills of worker processes (harness SIGKILLs and crash points). */
  kills: number;
  concurrency: number;
  /** Settle notifications heard, by workflow. */
  settleEvents: Map<string, number>;
  /** Settles each workflow may have had (1; 2 after a replay). */
  runsPerWorkflow?: number;
  /** Skip the per-node "ledger starts ≤ store attempts" check (replays reset store counters). */
  replayed?: boolean;
}

const ledgerGet = (m: Map<string, number>, key: string): number => m.get(key) ?? 0;

/** P2: outcomes, node states and results equal the reference. */
export function checkP2(runs: readonly Tracked[], v: string[]): void {
  for (const r of runs) {
    const { expected: e, outcome, snapshot } = r;
    if (r.error || !outcome || !snapshot) {
      v.push(`P2 ${r.plan.id}: not captured (${r.error ?? 'unsettled'})`);
      continue;
    }
    if (outcome.state !== e.state) v.push(`P2 ${r.plan.id}: workflow ${outcome.state}, reference ${e.state}`);
    if (e.state === 'succeeded' && JSON.stringify(outcome.result) !== JSON.stringify(e.result)) {
      v.push(`P2 ${r.plan.id}: result ${JSON.stringify(outcome.result)?.slice(0, 120)} != reference ${JSON.stringify(e.result)?.slice(0, 120)}`);
    }
    const failures = new Set(outcome.failures.map((f) => f.nodeId));
    if ([...failures].sort().join() !== [...e.failed].sort().join()) v.push(`P2 ${r.plan.id}: failures [${[...failures]}] != reference [${[...e.failed]}]`);
    const byId = new Map(snapshot.nodes.map((n) => [n.id, n]));
    for (const [id, n] of e.nodes) {
      const got = byId.get(id);
      if (!got) {
        v.push(`P2 ${r.plan.id}: node ${id} (${n.state}) missing`);
        continue;
      }
      if (got.state !== n.state) v.push(`P2 ${r.plan.id}: node ${id} ${got.state}, reference ${n.state}${got.error ? ` (${got.error.name}: ${got.error.message})` : ''}`);
      else if (n.result !== undefined && JSON.stringify(got.result) !== JSON.stringify(n.result)) v.push(`P2 ${r.plan.id}: node ${id} result differs`);
    }
    for (const n of snapshot.nodes) if (!e.nodes.has(n.id)) v.push(`P2 ${r.plan.id}: unexpected node ${n.id} (${n.task}, ${n.state})`);
  }
}

/** Checks one workflow's history: no record twice, and each node's records chain from `pending`. */
export function checkHistory(id: string, history: readonly TransitionRecord[], snapshot: WorkflowSnapshot | undefined, v: string[]): void {
  const seen = new Set<string>();
  const state = new Map<string, string>();
  for (const r of history) {
    const key = JSON.stringify([r.node, r.from, r.to, r.attempt, r.token ?? null]);
    if (seen.has(key)) v.push(`P3 ${id}: transition applied twice: ${key}`);
    seen.add(key);
    const current = state.get(r.node) ?? 'pending';
    if (current !== r.from) v.push(`P3 ${id}: node ${r.node} ${r.from}->${r.to} (attempt ${r.attempt}) applied while ${current}`);
    state.set(r.node, r.to);
  }
  if (!snapshot) return;
  for (const n of snapshot.nodes) {
    const last = state.get(n.id) ?? 'pending';
    const shown = last === 'waiting' ? 'running' : last;
    if (shown !== n.state) v.push(`P3 ${id}: node ${n.id} history ends ${last}, snapshot says ${n.state}`);
  }
}

/** P3: 0 lost (commits == 1 where the reference succeeds, starts == 0 where it never runs), 0 duplicated. */
export function checkP3(runs: readonly Tracked[], ctx: CheckContext, v: string[]): void {
  const { ledger } = ctx;
  for (const r of runs) {
    const e = r.expected;
    for (const [id, n] of e.nodes) {
      const key = `${r.plan.id}/${id}`;
      const commits = ledgerGet(ledger.commits, key);
      if (n.commits && commits !== 1) v.push(`P3 ${r.plan.id}: node ${id} committed ${commits}× (reference: ${n.state}, its handler completes once)`);
      if (!n.commits && commits !== 0) v.push(`P3 ${r.plan.id}: node ${id} committed ${commits}× (reference: ${n.state}, never completes)`);
      if (n.state === 'blocked' && ledgerGet(ledger.starts, key) !== 0) v.push(`P3 ${r.plan.id}: blocked node ${id} started ${ledgerGet(ledger.starts, key)}×`);
    }
    // Nodes the reference never runs at all: errbacks that must not fire.
    const graph = compile(r.plan.canvas);
    graph.errbacks.forEach((_, i) => {
      const key = `${r.plan.id}/e${i}`;
      if (!e.nodes.has(`e${i}`) && ledgerGet(ledger.starts, key) !== 0) v.push(`P3 ${r.plan.id}: errback e${i} ran though nothing failed`);
    });
    if (r.history) checkHistory(r.plan.id, r.history, r.snapshot, v);
    else v.push(`P3 ${r.plan.id}: no history captured`);
  }
  for (const [key, n] of ledger.commits) if (n > 1) v.push(`P3 ledger: ${key} committed ${n}×`);
}

/** P4: chord bodies, errbacks and the settle notification once each. */
export function checkP4(runs: readonly Tracked[], ctx: CheckContext, v: string[]): void {
  const { ledger } = ctx;
  for (const r of runs) {
    for (const id of [...r.expected.fanIn, ...r.expected.errbacks]) {
      const n = r.expected.nodes.get(id);
      if (!n || n.state !== 'succeeded') continue;
      const key = `${r.plan.id}/${id}`;
      if (ledgerGet(ledger.commits, key) !== 1) v.push(`P4 ${r.plan.id}: ${id} committed ${ledgerGet(ledger.commits, key)}×`);
      // A body may start again only after its lease lapsed (a redelivery the store counted) or a retry.
      const snap = r.snapshot?.nodes.find((x) => x.id === id);
      const retries = (r.history ?? []).filter((h) => h.node === id && h.to === 'retrying').length;
      const allowed = 1 + retries + (snap?.redeliveries ?? 0);
      if (!ctx.replayed && ledgerGet(ledger.starts, key) > allowed) v.push(`P4 ${r.plan.id}: ${id} started ${ledgerGet(ledger.starts, key)}× with ${retries} retries and ${snap?.redeliveries ?? 0} redeliveries`);
    }
    const heard = ctx.settleEvents.get(r.plan.id) ?? 0;
    if (heard > (ctx.runsPerWorkflow ?? 1)) v.push(`P4 ${r.plan.id}: settle notification heard ${heard}×`);
  }
}

/** P5: redeliveries counted and bounded. Returns the figures behind it. */
export function checkP5(runs: readonly Tracked[], ctx: CheckContext, v: string[]): Figures {
  const { ledger } = ctx;
  let starts = 0;
  let ran = 0;
  let retries = 0;
  let redeliveries = 0;
  let maxRedeliveries = 0;
  for (const r of runs) {
    for (const [id, n] of r.expected.nodes) {
      const key = `${r.plan.id}/${id}`;
      starts += ledgerGet(ledger.starts, key);
      if (n.state !== 'blocked') ran++;
      const snap = r.snapshot?.nodes.find((x) => x.id === id);
      if (snap && !ctx.replayed && ledgerGet(ledger.starts, key) > snap.attempts) {
        v.push(`P5 ${r.plan.id}: node ${id} executed ${ledgerGet(ledger.starts, key)}× but the store granted ${snap.attempts} claims`);
      }
    }
    retries += (r.history ?? []).filter((h) => h.to === 'retrying').length;
    for (const n of r.snapshot?.nodes ?? []) {
      redeliveries += n.redeliveries;
      maxRedeliveries = Math.max(maxRedeliveries, n.redeliveries);
      if (n.redeliveries > MAX_REDELIVERIES) v.push(`P5 ${r.plan.id}: node ${n.id} redelivered ${n.redeliveries}× (> ${MAX_REDELIVERIES})`);
      if (n.error?.name === 'WorkerLostError') redeliveries++;
    }
  }
  const extra = starts - ran - retries;
  const bound = ctx.kills * ctx.concurrency + redeliveries;
  // After a replay the ledger spans two runs and the store's counters were reset: the scenario checks its own.
  if (!ctx.replayed && extra > bound) v.push(`P5: ${extra} extra starts > kills × concurrency (${ctx.kills} × ${ctx.concurrency}) + lapsed leases (${redeliveries})`);
  return { starts, nodesRun: ran, retries, extraStarts: extra, redeliveries, maxRedeliveries, p5Bound: bound };
}

/** Ledger figures: duplicates avoided and the naive counter's amplification. */
export function ledgerFigures(runs: readonly Tracked[], ledger: LedgerDump): Figures {
  let commits = 0;
  let dupes = 0;
  let naive = 0;
  const ids = new Set(runs.map((r) => r.plan.id));
  const mine = (key: string): boolean => ids.has(key.slice(0, key.indexOf('/')));
  for (const [k, n] of ledger.commits) if (mine(k)) commits += n;
  for (const [k, n] of ledger.dupes) if (mine(k)) dupes += n;
  for (const [k, n] of ledger.naive) if (mine(k)) naive += n;
  return { commits, duplicatesAvoided: dupes, naive, amplification: commits === 0 ? 0 : Number((naive / commits).toFixed(4)) };
}

/** Fails the test with every violation and the seed (so the run can be replayed with BRAID_FAULT_SEED). */
export function assertNoViolations(violations: readonly string[], seed: number, figures: Figures): void {
  if (violations.length === 0) return;
  const shown = violations.slice(0, 60).join('\n  ');
  throw new Error(`fault scenario failed (BRAID_FAULT_SEED=${seed}); ${violations.length} violation(s):\n  ${shown}\nfigures: ${JSON.stringify(figures)}`);
}

/**
 * Runs P2-P5 over settled runs, P7 on their keys (after the retention) and the broker drain, and returns the
 * figures. `faultsStoppedAt` is when the scenario stopped injecting faults (P1 is checked by `settleAll`).
 */
export async function verify(env: FaultEnv, runs: readonly Tracked[], options: {
  seed: number; p7?: boolean; runsPerWorkflow?: number; replayed?: boolean; violations?: string[];
  /** Workflows settled after this time (epoch ms: faults over and links healed) must have been notified (inv 7). */
  notifiedAfter?: number;
}): Promise<{ violations: string[]; figures: Figures }> {
  const v = options.violations ?? [];
  if (options.notifiedAfter !== undefined) {
    const missed = runs.filter((r) => r.settledAt !== undefined && r.settledAt > options.notifiedAfter! && !env.settleEvents.has(r.plan.id)).map((r) => r.plan.id);
    if (missed.length > 0) v.push(`P4/inv 7: ${missed.length} workflows settled after the links healed without a settle notification (the subscriber is not listening): ${missed.slice(0, 5).join(', ')}`);
  }
  const drain = await env.drained(2 * env.options.leaseMs + 10_000);
  if (drain.left > 0) v.push(`broker: ${drain.left} entries still queued, in flight or delayed after settle`);
  if (drain.dead > 0) v.push(`broker: ${drain.dead} dead letters`);
  await sleep(300); // last counter reports from the workers
  const ledger = await env.ledger.dump();
  const ctx: CheckContext = {
    ledger, kills: env.pool.totalKills, concurrency: env.options.concurrency, settleEvents: env.settleEvents,
    runsPerWorkflow: options.runsPerWorkflow ?? 1, replayed: options.replayed ?? false,
  };
  checkP2(runs, v);
  checkP3(runs, ctx, v);
  checkP4(runs, ctx, v);
  const p5 = checkP5(runs, ctx, v);
  if (options.p7 !== false) {
    const left = await env.leftovers(runs.map((r) => r.plan.id), env.options.retentionMs + 2 * env.options.sweepIntervalMs + 5_000);
    if (left.length > 0) v.push(`P7: ${left.length} keys left after retention: ${left.slice(0, 8).join(', ')}`);
  }
  for (const exit of env.pool.unexpectedExits) v.push(`worker: ${exit}`);
  const counters = env.pool.counters();
  const pick = (prefix: string): Record<string, number> => Object.fromEntries(Object.entries(counters).filter(([k]) => k.startsWith(prefix)));
  const figures: Figures = {
    workflows: runs.length,
    nodes: runs.reduce((n, r) => n + r.expected.nodes.size, 0),
    failedWorkflows: runs.filter((r) => r.expected.state === 'failed').length,
    workersSpawned: env.pool.spawned,
    kills: env.pool.kills,
    crashPointKills: Object.fromEntries(env.pool.crashKills),
    workersArmed: env.pool.armed,
    faults: { ...env.faults },
    ...p5,
    ...ledgerFigures(runs, ledger),
    stale: counters.stale ?? 0,
    orphan: counters.orphan ?? 0,
    storeRetries: counters.store_retry ?? 0,
    leaseLost: counters['lease.lost'] ?? 0,
    sweep: pick('sweep.'),
    commitsByStatus: pick('commit.'),
    deadLetters: drain.dead,
    settleNotifications: [...env.settleEvents.values()].reduce((a, b) => a + b, 0),
  };
  return { violations: v, figures };
}

/**
 * Runs a fault schedule: `count` SIGKILLs of random workers, gaps uniform in [minGapMs, maxGapMs]. A kill waits
 * until `minReady` workers are ready (a forked replacement takes 1-3 s to boot on a small runner; killing each
 * one as it comes up would leave no worker at all, which tests nothing). Stops early when `stop()` says so.
 */
export async function killLoop(env: FaultEnv, rng: () => number, count: number, minGapMs = 500, maxGapMs = 2_000, stop?: () => boolean, minReady = 2): Promise<void> {
  for (let i = 0; i < count; i++) {
    await sleep(minGapMs + rng() * (maxGapMs - minGapMs));
    for (;;) {
      if (stop?.()) return;
      if (env.pool.killOne(rng, minReady)) break;
      await sleep(50);
    }
  }
}

/** One line per figure, for `t.diagnostic`. */
export function formatFigures(name: string, seed: number, figures: Figures, extra: Record<string, unknown> = {}): string {
  return `${name} seed=${seed} ${JSON.stringify({ ...figures, ...extra })}`;
}

/** True while at least one run is unsettled. */
export function anyOpen(runs: readonly Tracked[]): boolean {
  return runs.some((r) => r.settledAt === undefined && r.error === undefined);
}

export { FINAL as FINAL_STATES, type ReferenceResult };
