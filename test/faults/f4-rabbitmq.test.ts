/**
 * F4 and F4b (RELIABILITY §3): RabbitMQ faults with the amqp:// broker and the Redis store, on ONE PRIVATE
 * RabbitMQ node booted for this file (test/support/rabbit-node.ts: own node name, AMQP, distribution and epmd
 * ports, dirs, config and cookie; the shared 127.0.0.1:5672 is never faulted), producer here, workers forked.
 * The scenarios run one after the other on that node, each under its own prefix.
 *
 * F4 — RabbitMQ loss (D5, D6). 40 workflows drawn from the seed over every workload shape (~350-400 nodes
 * with fan-out children; 5 % flaky, 2 % doomed, 20 % slow 600-900 ms so deliveries are in flight at each
 * fault), 3 workers × concurrency 10 (prefetch 10 each), leaseMs 1,500, quorum queues. 28 workflows started
 * 200 ms apart while `rabbitmqctl close_all_connections` runs 3 times, 1-2.5 s apart; then, once the queues
 * were declared at least 30 s before (D6: a quorum queue declared < 1 s before a crash came back empty on
 * 3.10), 12 more started back to back (a backlog), `kill -9` of the broker VM, restart on its data dir.
 * Publishes during the outage retry until the broker is back (or give up after 30 s: the store's sweeper
 * re-publishes whatever was not sent, or was lost, inv 4).
 * Pass: P1-P5, P7; per worker, deliveries marked redelivered ≤ prefetch × queues × (cuts + broker restarts)
 * (D5 bounds each AMQP consumer by its prefetch; a worker has one consumer per queue, and quorum queues refuse a
 * channel-wide prefetch, so up to prefetch × queues deliveries of one worker are unacked when its link drops);
 * every redelivered duplicate is acked and dropped by the claim (no effect committed twice).
 *
 * F4b — the broker drops messages (§1.2). 36 workflows (40 % slow, so the 30 slots fall behind), same
 * workers but `republishAfterMs` 1,000 and a sweep every 250 ms: 12 started 150 ms apart, 24 back to back (a
 * backlog of ready messages), then every braid queue of the run (work queues and delay levels; not the dead
 * queue) is purged once. Nodes left ready without a message are re-published by the sweepers.
 * Pass: P1-P5, P7, and the sweepers re-published something when the purge removed messages. Reported:
 * messages purged, re-publishes, and the added latency: how long nodes waiting across the purge waited to
 * start (ready → started, store clock), next to the wait of every other node.
 *
 * When no private node can boot here (no unwrapped rabbitmq-server scripts, or the boot fails), each scenario
 * says why (a diagnostic starting FALLBACK) and runs what the shared server allows: F4's cuts as
 * `close_connection` of this test's own connections and no broker kill; F4b's purge over AMQP (`queue.purge`)
 * of this test's own queues. Replay a failure with BRAID_FAULT_SEED=<seed>.
 */
import { after, it } from 'node:test';
import assert from 'node:assert/strict';
import { braidQueues, closeOwnConnections, privateNodeBroker, purgeQueues, sharedServerBroker } from '../support/amqp-fault.js';
import { AMQP_URL, amqpAddress } from '../support/amqp.js';
import {
  assertNoViolations, drawWorkload, FaultEnv, formatFigures, prng, scenarioSeed, sleep, verify, type Tracked,
} from '../support/fault-harness.js';
import { FAULT_QUEUES } from '../support/fault-tasks.js';
import { RabbitNode, rabbitNodeMissing } from '../support/rabbit-node.js';
import { requireRabbit, requireRedis } from '../support/services.js';

const redis = await requireRedis();
const missing = rabbitNodeMissing();
// Without a private node the scenarios fall back to the shared server, so they need one or the other.
const shared = missing === undefined ? undefined : await requireRabbit(amqpAddress().host, amqpAddress().port);
const skip = redis.skip || (shared?.skip ?? false);

/** The file's private node, booted by the first scenario that asks; `why` says why there is none. */
let booting: Promise<RabbitNode | undefined> | undefined;
let why = missing;
function privateNode(): Promise<RabbitNode | undefined> {
  booting ??= missing !== undefined ? Promise.resolve(undefined) : RabbitNode.start().catch((error: Error) => {
    why = `the private node did not boot: ${error.message}`;
    return undefined;
  });
  return booting;
}
after(async () => {
  await (await booting)?.stop();
});

const PREFETCH = 10;
const CUTS = 3;
const DECLARED_BEFORE_KILL_MS = 30_000;

it('F4: close_all_connections × 3 and a broker kill -9 lose nothing and double nothing', { skip, timeout: 600_000 }, async (t) => {
  const seed = scenarioSeed();
  const rng = prng(seed);
  const node = await privateNode();
  if (!node) t.diagnostic(`F4 FALLBACK: no private RabbitMQ node (${why}); running on the shared server with close_connection of this test's own connections, no broker kill`);
  const env = await FaultEnv.start({
    name: 'f4', broker: node ? privateNodeBroker(node) : sharedServerBroker(), workers: 3, concurrency: PREFETCH, leaseMs: 1_500,
  });
  const declaredAt = Date.now();
  try {
    const plans = drawWorkload(seed, env.prefix, 40, { slow: 0.2 });
    const cut = async (): Promise<void> => {
      if (node) await node.closeAllConnections('braid F4 chaos');
      else await closeOwnConnections(env.prefix);
      env.count(node ? 'amqp.close_all_connections' : 'amqp.close_own_connections');
    };
    const producing = env.run(plans.slice(0, 28), { staggerMs: 200 });
    for (let i = 0; i < CUTS; i++) {
      await sleep(1_000 + rng() * 1_500);
      await cut();
    }
    const runs = await producing;
    let restartMs = 0;
    let declaredBeforeKillMs = 0;
    if (node) {
      await sleep(Math.max(0, declaredAt + DECLARED_BEFORE_KILL_MS - Date.now()));
      runs.push(...(await env.run(plans.slice(28))));
      declaredBeforeKillMs = Date.now() - declaredAt;
      await node.kill();
      env.count('rabbitmq.kill9');
      const down = Date.now();
      await sleep(1_000);
      await node.restart();
      restartMs = Date.now() - down;
    } else {
      runs.push(...(await env.run(plans.slice(28))));
    }
    const faultsStoppedAt = Date.now();
    const settle = await env.settleAll(runs, faultsStoppedAt, 30_000);
    if (settle.unsettled.length > 0) {
      assert.fail(`P1 (BRAID_FAULT_SEED=${seed}): ${settle.unsettled.length} workflows unsettled ${settle.boundMs} ms after faults stopped:\n  ${(await env.describeUnsettled(settle.unsettled)).join('\n  ')}`);
    }
    const { violations, figures } = await verify(env, runs, { seed });
    // D5: per AMQP consumer (one per queue), redelivered deliveries ≤ prefetch × connection losses it went through.
    const losses = CUTS + (node ? 1 : 0);
    const bound = PREFETCH * FAULT_QUEUES.length * losses;
    const perWorker = [...env.pool.liveCounters().entries()].map(([id, c]) => ({ id, deliveries: c['broker.deliveries'] ?? 0, redelivered: c['broker.redelivered'] ?? 0, stale: c.stale ?? 0 }));
    for (const w of perWorker) {
      if (w.redelivered > bound) violations.push(`D5: worker ${w.id} got ${w.redelivered} redelivered deliveries > prefetch ${PREFETCH} × ${FAULT_QUEUES.length} queues × ${losses} connection losses`);
    }
    if (perWorker.length !== 3) violations.push(`expected the 3 workers alive at the end, found ${perWorker.length}`);
    t.diagnostic(formatFigures('F4', seed, figures, {
      broker: node ? `private node ${node.name}` : 'shared server (fallback)', cuts: CUTS, brokerKills: node ? 1 : 0,
      declaredBeforeKillMs: node ? declaredBeforeKillMs : 'n/a', brokerRestartMs: restartMs, perWorker, redeliveryBoundPerWorker: bound,
      recoveryMs: settle.recoveryMs, logs: env.logDir,
    }));
    assertNoViolations(violations, seed, figures);
  } finally {
    await env.close();
  }
});

const REPUBLISH_AFTER_MS = 1_000;
const SWEEP_MS = 250;

/** Median, 90th percentile and max of a list of ms (0s when empty). */
function spread(xs: number[]): { n: number; median: number; p90: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number): number => (s.length === 0 ? 0 : s[Math.min(s.length - 1, Math.floor(q * s.length))]!);
  return { n: s.length, median: at(0.5), p90: at(0.9), max: s.length === 0 ? 0 : s[s.length - 1]! };
}

/**
 * Ready → started of every node that started: ready is the workflow's creation for a root, the last
 * dependency's finish otherwise (a replacement's children: the replaced node's start). Split by whether the
 * node was waiting when the purge ran.
 */
function waits(runs: readonly Tracked[], purgedAt: number): { across: number[]; other: number[] } {
  const across: number[] = [];
  const other: number[] = [];
  for (const r of runs) {
    const snap = r.snapshot;
    if (!snap) continue;
    const byId = new Map(snap.nodes.map((n) => [n.id, n]));
    for (const n of snap.nodes) {
      if (n.startedAt === undefined || n.kind !== 'task') continue;
      const parent = n.replacing === undefined ? undefined : byId.get(n.replacing);
      const readyAt = n.deps.length > 0 ? Math.max(...n.deps.map((d) => byId.get(d)?.finishedAt ?? snap.createdAt))
        : parent?.startedAt ?? snap.createdAt;
      (readyAt < purgedAt && n.startedAt >= purgedAt ? across : other).push(Math.max(0, n.startedAt - readyAt));
    }
  }
  return { across, other };
}

it('F4b: every braid queue purged once mid-run: the sweeper re-publishes and everything settles', { skip, timeout: 600_000 }, async (t) => {
  const seed = scenarioSeed();
  const node = await privateNode();
  if (!node) t.diagnostic(`F4b FALLBACK: no private RabbitMQ node (${why}); purging this test's own queues on the shared server over AMQP`);
  const env = await FaultEnv.start({
    name: 'f4b', broker: node ? privateNodeBroker(node) : sharedServerBroker(), workers: 3, concurrency: 10, leaseMs: 1_500,
    sweepIntervalMs: SWEEP_MS, republishAfterMs: REPUBLISH_AFTER_MS,
  });
  try {
    const plans = drawWorkload(seed, env.prefix, 36, { slow: 0.4 });
    const runs = await env.run(plans.slice(0, 12), { staggerMs: 150 });
    runs.push(...(await env.run(plans.slice(12))));
    const purgedAt = Date.now();
    const purged = await purgeQueues(node ? node.url : AMQP_URL, braidQueues(env.prefix));
    env.count('amqp.purge_all', 1);
    const faultsStoppedAt = Date.now();
    const settle = await env.settleAll(runs, faultsStoppedAt, 30_000);
    if (settle.unsettled.length > 0) {
      assert.fail(`P1 (BRAID_FAULT_SEED=${seed}): ${settle.unsettled.length} workflows unsettled ${settle.boundMs} ms after the purge:\n  ${(await env.describeUnsettled(settle.unsettled)).join('\n  ')}`);
    }
    const { violations, figures } = await verify(env, runs, { seed });
    const republished = (figures.sweep as Record<string, number>)['sweep.republished'] ?? 0;
    if (purged > 0 && republished === 0) violations.push(`the purge removed ${purged} messages but no sweeper re-published anything`);
    const { across, other } = waits(runs, purgedAt);
    t.diagnostic(formatFigures('F4b', seed, figures, {
      broker: node ? `private node ${node.name}` : 'shared server (fallback)', purged, republished,
      republishAfterMs: REPUBLISH_AFTER_MS, sweepIntervalMs: SWEEP_MS,
      waitAcrossPurgeMs: spread(across), waitOtherNodesMs: spread(other), recoveryMs: settle.recoveryMs, logs: env.logDir,
    }));
    assertNoViolations(violations, seed, figures);
  } finally {
    await env.close();
  }
});
