/**
 * F10 — replay under worker kills (RELIABILITY §3), Redis store + Redis broker, producer here, workers forked.
 *
 * Size: 20 workflows from the seed (every shape, each with at least one doomed node, so all fail, one fan-out
 * failing through a doomed child; 5 % flaky, 5 % slow), 3 workers × concurrency 4, leaseMs 1,500, retention 60 s while they wait to be replayed.
 * Phase 1 runs them to failure without faults. Then a running workflow's replay must reject
 * WorkflowStateError; the task is fixed through a ledger flag; the workers are restarted with a 4 s retention
 * and armed at the 5 crash points; `app.replay` of all 20 (300 ms apart) runs while up to 6 random SIGKILLs (0.4-1.0 s apart)
 * hit the workers, each replaced.
 *
 * Pass: every replayed workflow succeeds with the fixed world's reference result (P2); nodes that succeeded in
 * phase 1 never start again (ledger `starts` unchanged), nor does a replaced node whose fragment failed (only
 * the fragment re-runs); every node commits exactly once over both phases
 * (P3, replayed nodes once); no transition applied twice (history over both runs); phase-2 extra starts within
 * kills × concurrency + lapsed leases (P5); errbacks of phase 1 not run again (P4); P7 after the new retention.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { requireRedis } from '../support/services.js';
import { WorkflowStateError } from '../../src/index.js';
import {
  anyOpen, assertNoViolations, drawWorkload, expectedOf, FaultEnv, formatFigures, killLoop, prng, scenarioSeed, sleep, verify,
  type Tracked, type WorkflowPlan,
} from '../support/fault-harness.js';

const gate = await requireRedis();
const CRASH_POINTS = ['after-claim-before-start', 'after-commit-before-publish', 'after-commit-before-ack', 'before-renew', 'after-replace-before-commit'];

it('F10: replay under kills re-runs only what failed, once; replay of a running workflow is refused', { skip: gate.skip, timeout: 240_000 }, async (t) => {
  const seed = scenarioSeed();
  const rng = prng(seed);
  const env = await FaultEnv.start({ name: 'f10', workers: 3, concurrency: 4, leaseMs: 1_500, retentionMs: 60_000 });
  try {
    // Phase 1: everything fails (a doomed node per workflow).
    const plans = drawWorkload(seed, env.prefix, 20, { forceDoom: true });
    // One fan-out fails through a child: its replay must re-run the child only, the replaced node resolving.
    plans.find((p) => p.shape === 'fan')!.modes.set('n1.3', 'doom');
    const phase1 = await env.run(plans, { staggerMs: 50 });
    const settle1 = await env.settleAll(phase1, Date.now());
    assert.deepEqual(settle1.unsettled, [], `phase 1 unsettled (BRAID_FAULT_SEED=${seed})`);
    const check1 = await verify(env, phase1, { seed, p7: false });
    assertNoViolations(check1.violations.map((v) => `phase 1: ${v}`), seed, check1.figures);
    const ledger1 = await env.ledger.dump();

    // A running workflow cannot be replayed.
    const running: WorkflowPlan = { ...drawWorkload(seed + 1, `${env.prefix}-running`, 1, { doom: 0, flaky: 0, slow: 0 }, ['chain5'])[0]! };
    running.modes = new Map([['n0', 'slow:1500']]);
    const [runningRun] = await env.run([running]);
    const refused = await env.producer.replay(running.id).then(() => 'accepted', (e: unknown) => (e instanceof WorkflowStateError ? 'WorkflowStateError' : String(e)));
    const violations: string[] = [];
    if (refused !== 'WorkflowStateError') violations.push(`replay of a running workflow: ${refused} (expected WorkflowStateError)`);
    await runningRun!.done;

    // Fix the task, restart the workers with a short retention, armed at the crash points.
    await env.ledger.setFixed(true);
    await env.pool.stopAll();
    env.pool.settings = { ...env.pool.settings, retentionMs: 4_000 };
    env.pool.replacing = true;
    await env.pool.start(3);
    const killsBefore = env.pool.totalKills;
    env.pool.crashPlan.push(...CRASH_POINTS.map((p) => `${p},1`).sort(() => rng() - 0.5));

    // Phase 2: replay all of them while workers are killed.
    const byId = new Map(phase1.map((r) => [r.plan.id, r]));
    const phase2: Tracked[] = [];
    let replaying = true;
    const replays = (async () => {
      for (const plan of plans) {
        const expected = expectedOf(plan, true);
        // Errbacks that ran in phase 1 stay (succeeded); the fixed world fires none.
        for (const n of byId.get(plan.id)!.snapshot!.nodes) if (n.kind === 'errback') expected.nodes.set(n.id, { task: n.task, state: 'succeeded', kind: 'errback', commits: true });
        const handle = await env.producer.replay(plan.id);
        phase2.push(env.track(plan, handle, expected));
        await sleep(300);
      }
      replaying = false;
    })();
    await killLoop(env, rng, 6, 400, 1_000, () => !replaying && !anyOpen(phase2));
    await replays;
    env.pool.crashPlan.length = 0;
    const faultsStoppedAt = Date.now();
    const settle = await env.settleAll(phase2, faultsStoppedAt);
    if (settle.unsettled.length > 0) {
      assert.fail(`P1 (BRAID_FAULT_SEED=${seed}): ${settle.unsettled.length} replayed workflows unsettled ${settle.boundMs} ms after faults stopped:\n  ${(await env.describeUnsettled(settle.unsettled)).join('\n  ')}`);
    }

    const { figures } = await verify(env, phase2, { seed, violations, runsPerWorkflow: 2, replayed: true });
    const ledger2 = await env.ledger.dump();
    let unchanged = 0;
    let rerun = 0;
    let phase2Starts = 0;
    let phase2Retries = 0;
    let phase2Redeliveries = 0;
    for (const r of phase2) {
      const before = byId.get(r.plan.id)!;
      const succeeded1 = new Set(before.snapshot!.nodes.filter((n) => n.state === 'succeeded').map((n) => n.id));
      for (const [id] of r.expected.nodes) {
        const key = `${r.plan.id}/${id}`;
        const s1 = ledger1.starts.get(key) ?? 0;
        const s2 = ledger2.starts.get(key) ?? 0;
        const replaced = before.snapshot!.nodes.some((n) => n.replacing === id);
        if (replaced && (s2 !== s1)) violations.push(`F10 ${r.plan.id}: replaced node ${id} ran its handler again on replay (${s1} -> ${s2}); only its fragment should`);
        if (succeeded1.has(id) || replaced) {
          unchanged++;
          if (s2 !== s1) violations.push(`F10 ${r.plan.id}: node ${id} succeeded in phase 1 yet started again (${s1} -> ${s2})`);
        } else {
          rerun++;
          phase2Starts += s2 - s1;
          const snap = r.snapshot?.nodes.find((n) => n.id === id);
          phase2Redeliveries += snap?.redeliveries ?? 0;
        }
      }
      phase2Retries += (r.history ?? []).slice(before.history!.length).filter((h) => h.to === 'retrying').length;
    }
    const kills2 = env.pool.totalKills - killsBefore;
    const extra = phase2Starts - rerun - phase2Retries;
    if (extra > kills2 * env.options.concurrency + phase2Redeliveries) {
      violations.push(`P5 phase 2: ${extra} extra starts > kills × concurrency (${kills2} × ${env.options.concurrency}) + lapsed leases (${phase2Redeliveries})`);
    }
    t.diagnostic(formatFigures('F10', seed, figures, {
      phase1: { starts: check1.figures.starts, failedWorkflows: check1.figures.failedWorkflows },
      phase2: { nodesKeptFromPhase1: unchanged, nodesReplayed: rerun, starts: phase2Starts, retries: phase2Retries, extraStarts: extra, redeliveries: phase2Redeliveries, kills: kills2 },
      replayOfRunning: refused, logs: env.logDir,
    }));
    assertNoViolations(violations, seed, figures);
  } finally {
    await env.close();
  }
});
