/**
 * Property: random canvases and random fault schedules, drawn together by fast-check, against real Redis
 * (store + broker, each through its own fault proxy), a producer here and forked workers (DESIGN "Tests",
 * RELIABILITY §4 "Schedules").
 *
 * Size: 8 runs (BRAID_FAULT_RUNS to change) on one environment: 3 workers × concurrency 4, leaseMs 1,500,
 * retention 3 s. Each run: 2-4 random canvases (nesting up to 3 levels, empty groups and headers, immutable
 * steps, errbacks, queues q1-q3; 10 % of nodes doomed, 10 % flaky, 5 % slow) plus one workload shape of
 * RELIABILITY §3, and 0-6 faults at 0-2.5 s: worker SIGKILL (replaced), cutAll on the store or broker proxy,
 * a 1 s partition of either, an extra copy of some node's message, `CLIENT KILL TYPE normal` (every
 * connection dropped by the server), `CLIENT PAUSE 1000 WRITE` (writes stall, no disconnect).
 *
 * Pass, per run: P1-P5 (outcomes equal the reference evaluator's, effects once per idempotencyKey, no
 * transition twice); after all runs, P7. A failure prints fast-check's seed and path; replay it with
 * BRAID_FAULT_SEED=<seed> (BRAID_FAULT_SHRINK=1 also shrinks it, slowly: every step runs against Redis).
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { requireRedis } from '../support/services.js';
import { canvasArb } from '../support/canvas-arb.js';
import { compile } from '../../src/canvas/compile.js';
import type { AnyCanvas } from '../../src/canvas/values.js';
import {
  drawModes, FaultEnv, formatFigures, prng, scenarioSeed, SHAPES, shapeCanvas, sleep, verify, type Figures, type Tracked, type WorkflowPlan,
} from '../support/fault-harness.js';

const gate = await requireRedis();
const RUNS = Number(process.env.BRAID_FAULT_RUNS ?? 8);

type FaultKind = 'kill' | 'cutStore' | 'cutBroker' | 'partitionStore' | 'partitionBroker' | 'duplicate' | 'clientKill' | 'clientPause';

interface Fault {
  atMs: number;
  kind: FaultKind;
  pick: number;
}

interface Case {
  canvases: AnyCanvas[];
  shape: (typeof SHAPES)[number];
  salt: number;
  faults: Fault[];
}

const caseArb: fc.Arbitrary<Case> = fc.record({
  canvases: fc.array(canvasArb({ maxDepth: 3 }).filter((c) => compile(c).nodes.length > 0 && compile(c).nodes.length <= 40), { minLength: 2, maxLength: 4 }),
  shape: fc.constantFrom(...SHAPES),
  salt: fc.integer(),
  faults: fc.array(fc.record({
    atMs: fc.integer({ min: 0, max: 2_500 }),
    kind: fc.constantFrom<FaultKind>('kill', 'cutStore', 'cutBroker', 'partitionStore', 'partitionBroker', 'duplicate', 'clientKill', 'clientPause'),
    pick: fc.nat(),
  }), { maxLength: 6 }),
});

it('property: random canvases under random fault schedules match the reference, effects once', { skip: gate.skip, timeout: 300_000 }, async (t) => {
  const seed = scenarioSeed();
  const env = await FaultEnv.start({ name: 'prop', proxies: true, workers: 3, concurrency: 4, leaseMs: 1_500, retentionMs: 3_000 });
  const all: Tracked[] = [];
  let runIndex = 0;
  let last: Figures = {};
  try {
    t.diagnostic(`property seed=${seed} runs=${RUNS} logs=${env.logDir}`);
    // A crash of the redis-server under test fails the property at once, instead of leaving every client
    // retrying forever until the test's timeout.
    let stopWatching = (): void => undefined;
    const crashed = new Promise<never>((_, reject) => {
      stopWatching = env.redis.onCrash((why) => {
        console.error(`property seed=${seed}: ${why}`);
        reject(new Error(`the redis-server under test crashed (BRAID_FAULT_SEED=${seed}): ${why}`));
      });
    });
    const checked = fc.assert(fc.asyncProperty(caseArb, async (c) => {
      const run = runIndex++;
      const rng = prng(c.salt);
      const canvases = [...c.canvases, shapeCanvas(c.shape, `r${run}`)];
      // Ids minted together and started together: on Redis one hash slot, so creates, claims and completes of
      // different workflows share function calls while the faults hit them.
      const ids = await env.mintIds(canvases.length, (i) => `${env.prefix}-r${run}-${i}`);
      const plans: WorkflowPlan[] = canvases.map((canvas, i) => ({
        id: ids[i]!, shape: 'custom', canvas, modes: drawModes(canvas, rng, { doom: 0.1, flaky: 0.1, slow: 0.05 }),
      }));
      const runs = await env.run(plans, { together: true });
      all.push(...runs);
      const nodes = plans.flatMap((p) => compile(p.canvas).nodes.map((n) => ({ id: p.id, node: n.id, task: n.task, queue: n.options.queue ?? 'default' })));
      const t0 = Date.now();
      const pending: Promise<unknown>[] = [];
      for (const f of [...c.faults].sort((a, b) => a.atMs - b.atMs)) {
        await sleep(Math.max(0, t0 + f.atMs - Date.now()));
        env.count(f.kind);
        switch (f.kind) {
          case 'kill': env.pool.killOne(rng, 2); break;
          case 'cutStore': env.storeProxy!.cutAll(); break;
          case 'cutBroker': env.brokerProxy!.cutAll(); break;
          case 'partitionStore':
            env.storeProxy!.partition();
            pending.push(sleep(1_000).then(() => env.storeProxy!.heal()));
            break;
          case 'partitionBroker':
            env.brokerProxy!.partition();
            pending.push(sleep(1_000).then(() => env.brokerProxy!.heal()));
            break;
          // Server-side faults (RELIABILITY §4): drop every client connection; stall writes without a disconnect.
          case 'clientKill': pending.push(env.admin.client('KILL', 'TYPE', 'normal').catch(() => undefined)); break;
          case 'clientPause': pending.push(env.admin.call('CLIENT', 'PAUSE', '1000', 'WRITE').catch(() => undefined)); break;
          case 'duplicate': {
            const n = nodes[f.pick % nodes.length]!;
            pending.push(env.publishCopy(n.id, n.node, n.task, 1, n.queue));
            break;
          }
        }
      }
      await Promise.all(pending);
      env.storeProxy!.heal();
      env.brokerProxy!.heal();
      const faultsStoppedAt = Date.now();
      const settle = await env.settleAll(runs, faultsStoppedAt);
      if (settle.unsettled.length > 0) {
        throw new Error(`P1: ${settle.unsettled.length} unsettled ${settle.boundMs} ms after faults stopped:\n  ${(await env.describeUnsettled(settle.unsettled)).join('\n  ')}`);
      }
      const { violations, figures } = await verify(env, runs, { seed, p7: false });
      last = figures;
      if (violations.length > 0) throw new Error(`run ${run}: ${violations.length} violation(s):\n  ${violations.slice(0, 40).join('\n  ')}`);
    }), { seed, numRuns: RUNS, endOnFailure: process.env.BRAID_FAULT_SHRINK !== '1' });
    checked.catch(() => undefined); // after a crash the property's own failure comes too late to matter
    try {
      await Promise.race([checked, crashed]);
    } finally {
      stopWatching();
    }

    const left = await env.leftovers(all.map((r) => r.plan.id), env.options.retentionMs + 2 * env.options.sweepIntervalMs + 5_000);
    assert.deepEqual(left, [], `P7 (BRAID_FAULT_SEED=${seed}): keys left after retention`);
    t.diagnostic(formatFigures('property', seed, last, { workflowsAllRuns: all.length, faults: env.faults, killsAllRuns: env.pool.totalKills }));
  } finally {
    await env.close();
  }
});
