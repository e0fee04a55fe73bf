/**
 * F5 — poison nodes (RELIABILITY §3 and §5 row 10), Redis store + Redis broker, producer here, three workers
 * forked (concurrency 1, `leaseMs` 1,000, `--max-old-space-size=64`) under a small supervisor that replaces a
 * worker when it exits, and kills and replaces one that stops sending its heartbeat (a blocked event loop).
 *
 * Every attempt of a poison node takes its worker down: `p.kill` SIGKILLs its process, `p.busy` blocks the event
 * loop for good, `p.oom` runs V8 out of heap. Each must end `failed` with WorkerLostError once its lease lapsed
 * `maxRedeliveries` (2) times, costing exactly 1 + 2 workers, with its errback run once and the rest of its
 * chain blocked. `p.hang` ignores its signal past its `timeLimitMs`: it fails with TimeLimitExceeded on its
 * first attempt and its late return is fenced off. Healthy workflows started alongside all succeed, none of
 * their nodes redelivered.
 */
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { chain, createApp, sig, WorkflowFailedError, type App, type WorkflowHandle } from '../../src/index.js';
import { RedisServer } from '../support/redis-server.js';
import { requireRedis } from '../support/services.js';
import { LATE_KEY, POISON_REDELIVERIES, registerPoisonTasks, REPORTS_KEY } from '../support/poison-tasks.js';

const gate = await requireRedis();
const WORKER_ENTRY = new URL('../support/poison-worker.ts', import.meta.url);
const LEASE_MS = 1_000;
/** A worker silent this long (no heartbeat) has a blocked event loop: the supervisor kills it. */
const SILENCE_MS = 3_000;
const POISONS = ['kill', 'busy', 'oom'] as const;
const HEALTHY = 8;

/** Why a worker went away. */
type Death = 'self-kill' | 'silent' | 'oom' | 'other';

/** Forks workers, replaces those that die, kills those that go silent. */
class Supervisor {
  private next = 0;
  private stopping = false;
  private readonly procs = new Map<number, { child: ChildProcess; lastBeat: number; silenced: boolean }>();
  private readonly watchdog: NodeJS.Timeout;
  private readonly spawns = new Set<Promise<void>>();
  readonly deaths: Array<{ worker: number; cause: Death; how: string }> = [];

  constructor(private readonly env: Record<string, string>, readonly logDir: string) {
    this.watchdog = setInterval(() => {
      for (const p of this.procs.values()) {
        if (!p.silenced && Date.now() - p.lastBeat > SILENCE_MS) {
          p.silenced = true;
          p.child.kill('SIGKILL');
        }
      }
    }, 100);
  }

  /** Forks one worker and waits until it consumes. */
  spawn(): Promise<void> {
    const id = this.next++;
    const log = openSync(join(this.logDir, `worker-${id}.log`), 'a');
    const child = fork(WORKER_ENTRY, [], {
      execArgv: ['--import', 'tsx', '--max-old-space-size=64'],
      stdio: ['ignore', log, log, 'ipc'],
      env: { ...process.env, ...this.env },
    });
    closeSync(log);
    const started = new Promise<void>((resolve, reject) => {
      child.on('message', (message: { type?: string }) => {
        const p = this.procs.get(id);
        if (message.type === 'ready' && !p) {
          this.procs.set(id, { child, lastBeat: Date.now(), silenced: false });
          resolve();
        } else if (message.type === 'beat' && p) p.lastBeat = Date.now();
      });
      child.once('exit', (code, signal) => {
        const p = this.procs.get(id);
        this.procs.delete(id);
        if (!p) {
          reject(new Error(`worker ${id} exited (${signal ?? code}) before it was ready; see ${join(this.logDir, `worker-${id}.log`)}`));
          return;
        }
        if (this.stopping) return;
        const how = `${signal ?? code}`;
        const cause: Death = p.silenced ? 'silent' : signal === 'SIGKILL' ? 'self-kill'
          : signal === 'SIGABRT' || signal === 'SIGTRAP' || code === 134 || code === 133 ? 'oom' : 'other';
        this.deaths.push({ worker: id, cause, how });
        const replacement = this.spawn();
        this.spawns.add(replacement);
        void replacement.catch(() => undefined).finally(() => this.spawns.delete(replacement));
      });
    });
    return started;
  }

  count(cause: Death): number {
    return this.deaths.filter((d) => d.cause === cause).length;
  }

  /** Stops every worker (SIGTERM; SIGKILL after 5 s) and replaces none. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.watchdog);
    await Promise.allSettled([...this.spawns]);
    await Promise.all([...this.procs.values()].map(({ child }) => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    })));
  }
}

/** The error a workflow failed with, by node: `[nodeId, error name]`. */
async function failuresOf(handle: WorkflowHandle<unknown>): Promise<Array<[string, string]>> {
  const error = await handle.result().then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof WorkflowFailedError, `${handle.id} did not fail: ${String(error)}`);
  return error.failures.map((f) => [f.nodeId, f.error.name]);
}

it('F5: poison nodes fail for good after their bound, each costing a bounded number of workers; the rest runs', { skip: gate.skip, timeout: 180_000 }, async (t) => {
  const server = await RedisServer.start({ appendonly: false });
  const prefix = `f5${Date.now()}`;
  const logDir = mkdtempSync(join(tmpdir(), 'braid-f5-'));
  const supervisor = new Supervisor({
    BRAID_F5_URL: server.url, BRAID_F5_PREFIX: prefix, BRAID_F5_LEASE_MS: String(LEASE_MS), BRAID_F5_SWEEP_MS: '250',
  }, logDir);
  const ledger = new Redis(server.url);
  let app: App | undefined;
  try {
    await Promise.all([supervisor.spawn(), supervisor.spawn(), supervisor.spawn()]);
    app = createApp({ broker: server.url, prefix, logger: pino({ level: 'silent' }) });
    registerPoisonTasks(app);
    const poisoned = new Map<string, WorkflowHandle<unknown>>();
    for (const kind of POISONS) {
      const canvas = chain(sig(`p.${kind}`), sig('p.inc')).onError(sig('p.report'));
      poisoned.set(kind, await app.start(canvas, { workflowId: `${prefix}-${kind}` }));
    }
    const healthy = await Promise.all(Array.from({ length: HEALTHY }, (_, i) =>
      app!.start(chain(sig('p.inc', [i]), sig('p.inc')).onError(sig('p.report')), { workflowId: `${prefix}-ok-${i}` })));

    const t0 = Date.now();
    const marks: string[] = [];
    for (const [kind, h] of poisoned) void h.result().catch(() => marks.push(`${kind} ${Date.now() - t0} ms`));
    // Healthy workflows run to the end beside the poison.
    assert.deepEqual(await Promise.all(healthy.map((h) => h.result())), Array.from({ length: HEALTHY }, (_, i) => i + 2));

    for (const kind of POISONS) {
      const handle = poisoned.get(kind)!;
      assert.deepEqual(await failuresOf(handle), [['n0', 'WorkerLostError']], `p.${kind}`);
      const snapshot = await handle.status();
      assert.deepEqual(snapshot.nodes.map((n) => [n.id, n.state, n.attempts, n.redeliveries]), [
        ['n0', 'failed', 1 + POISON_REDELIVERIES, POISON_REDELIVERIES], ['n1', 'blocked', 0, 0], ['e0', 'succeeded', 1, 0],
      ], `p.${kind}: the poison starts 1 + maxRedeliveries times, then fails; what follows it is blocked; its errback ran`);
    }
    t.diagnostic(`F5 poisons failed at: ${marks.join(', ')}`);

    // The hang starts once no poison is left to take its worker down before its late return.
    const hang = await app.start(chain(sig('p.hang'), sig('p.inc')).onError(sig('p.report')), { workflowId: `${prefix}-hang` });
    assert.deepEqual(await failuresOf(hang), [['n0', 'TimeLimitExceeded']]);
    assert.equal(await ledger.get(LATE_KEY), null, 'the attempt failed only once the handler returned, not at its time limit');

    // Each errback ran once, for the failed workflows only.
    const reports = (await ledger.lrange(REPORTS_KEY, 0, -1)).sort();
    assert.deepEqual(reports, [
      `${prefix}-busy n0 WorkerLostError`, `${prefix}-hang n0 TimeLimitExceeded`, `${prefix}-kill n0 WorkerLostError`, `${prefix}-oom n0 WorkerLostError`,
    ]);

    // The hang's late return came, and changed nothing: its attempt had failed.
    for (let waited = 0; (await ledger.get(LATE_KEY)) === null; waited += 100) {
      assert.ok(waited < 30_000, 'p.hang never returned');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const hangNode = (await hang.status()).nodes.find((n) => n.id === 'n0')!;
    assert.deepEqual([hangNode.state, hangNode.attempts, hangNode.redeliveries, hangNode.result, hangNode.error?.name], ['failed', 1, 0, undefined, 'TimeLimitExceeded']);

    // No healthy node ran twice.
    for (const h of healthy) {
      const snapshot = await h.status();
      assert.deepEqual(snapshot.nodes.map((n) => [n.id, n.state, n.attempts, n.redeliveries]), [['n0', 'succeeded', 1, 0], ['n1', 'succeeded', 1, 0]], h.id);
    }

    // Dead-letter copies of the poisons' messages, kept by the sweeper that failed each one (long done by now: the
    // hang took seconds since). Best effort: a sweeper that a poison took down right after its sweep keeps none.
    const letters = (await (await app.kernel()).broker.deadLetters(100)).filter((l) => l.reason === 'worker_lost').map((l) => {
      const e = JSON.parse(l.body) as { workflowId: string; nodeId: string; task: string };
      return `${e.workflowId} ${e.nodeId} ${e.task}`;
    }).sort();
    const expectedLetters = POISONS.map((kind) => `${prefix}-${kind} n0 p.${kind}`);
    assert.deepEqual(letters.filter((l) => !expectedLetters.includes(l)), [], 'a dead letter of a node that was not lost');
    assert.equal(new Set(letters).size, letters.length, `a lost node dead-lettered twice: ${letters.join(', ')}`);
    t.diagnostic(`F5 dead letters of lost nodes: ${letters.length} of ${POISONS.length}`);

    // Each poison cost exactly one worker per attempt: 1 + maxRedeliveries.
    const deaths = supervisor.deaths.map((d) => `worker ${d.worker}: ${d.cause} (${d.how})`);
    t.diagnostic(`F5 worker deaths: ${deaths.join('; ')}; logs ${logDir}`);
    assert.deepEqual(
      { selfKill: supervisor.count('self-kill'), silent: supervisor.count('silent'), oom: supervisor.count('oom'), other: supervisor.count('other') },
      { selfKill: POISON_REDELIVERIES + 1, silent: POISON_REDELIVERIES + 1, oom: POISON_REDELIVERIES + 1, other: 0 },
      `worker deaths: ${deaths.join('; ')}${supervisor.count('other') > 0 ? `; first log: ${readFileSync(join(logDir, `worker-${supervisor.deaths.find((d) => d.cause === 'other')!.worker}.log`), 'utf8').slice(-2_000)}` : ''}`,
    );
  } finally {
    await supervisor.stop();
    await app?.close();
    ledger.disconnect();
    await server.stop();
  }
});
