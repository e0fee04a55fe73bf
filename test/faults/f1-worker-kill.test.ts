/**
 * F1 — worker SIGKILL (RELIABILITY §3), Redis store + Redis broker, producer here, workers forked.
 *
 * Size (CI tier scaled down for a 2-core runner): 30 workflows drawn from the seed over every workload shape
 * (~300 nodes incl. fan-out children; 5 % flaky, 2 % doomed, 5 % slow 600-900 ms), 3 workers × concurrency 4,
 * leaseMs 1,500; up to 8 random SIGKILLs 0.4-1.0 s apart while the load runs (a kill waits until 2 workers are
 * ready: replacements boot in 1-3 s), each worker replaced; replacements are armed, one at each of the 5 crash points (after-claim-before-start, after-commit-before-publish,
 * after-commit-before-ack, before-renew, after-replace-before-commit) on an arrival n in 1-3 drawn from the seed (1 for the two rare points).
 *
 * Pass: P1 (settled within faults-stopped + 2 × leaseMs + one sweep + 10 s of remaining work), P2, P3, P4, P5, P7.
 * Replay a failure with BRAID_FAULT_SEED=<seed>.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { requireRedis } from '../support/services.js';
import {
  anyOpen, assertNoViolations, drawWorkload, FaultEnv, formatFigures, killLoop, prng, scenarioSeed, verify, type Tracked,
} from '../support/fault-harness.js';

const gate = await requireRedis();
const CRASH_POINTS = ['after-claim-before-start', 'after-commit-before-publish', 'after-commit-before-ack', 'before-renew', 'after-replace-before-commit'];

it('F1: worker SIGKILLs and crash points lose nothing and double nothing', { skip: gate.skip, timeout: 180_000 }, async (t) => {
  const seed = scenarioSeed();
  const rng = prng(seed);
  const env = await FaultEnv.start({ name: 'f1', workers: 0, concurrency: 4, leaseMs: 1_500 });
  try {
    await env.pool.start(3);
    // Replacements are armed at the crash points, in an order drawn from the seed. Points a worker passes
    // rarely (a renewal, a replace) are armed on their first arrival.
    const plan = CRASH_POINTS.map((p) => `${p},${p === 'before-renew' || p === 'after-replace-before-commit' ? 1 : 1 + Math.floor(rng() * 3)}`).sort(() => rng() - 0.5);
    env.pool.crashPlan.push(...plan);
    const plans = drawWorkload(seed, env.prefix, 30);
    let runs: Tracked[] | undefined;
    const producing = env.run(plans, { staggerMs: 350 }).then((r) => (runs = r));
    await killLoop(env, rng, 8, 400, 1_000, () => runs !== undefined && !anyOpen(runs));
    await producing;
    // Arms not yet handed out are dropped: faults stop here (a live armed worker may still fire; P1 counts from it).
    env.pool.crashPlan.length = 0;
    const faultsStoppedAt = Date.now();
    const settle = await env.settleAll(runs!, faultsStoppedAt);
    const late = Math.max(0, env.pool.lastFaultAt - faultsStoppedAt);
    if (settle.unsettled.length > 0) {
      assert.fail(`P1 (BRAID_FAULT_SEED=${seed}): ${settle.unsettled.length} workflows unsettled ${settle.boundMs} ms after faults stopped:\n  ${(await env.describeUnsettled(settle.unsettled)).join('\n  ')}`);
    }
    const { violations, figures } = await verify(env, runs!, { seed });
    t.diagnostic(formatFigures('F1', seed, figures, { recoveryMs: settle.recoveryMs, lastCrashPointAfterStopMs: late, logs: env.logDir }));
    assertNoViolations(violations, seed, figures);
    assert.ok(env.pool.totalKills >= 6, `expected at least 6 kills, got ${env.pool.totalKills} (the load settled too soon)`);
  } finally {
    await env.close();
  }
});
