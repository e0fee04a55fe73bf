/**
 * F3 — redis-server `kill -9` and restart on the same dir mid-run (RELIABILITY §3, D4), Redis store + Redis
 * broker on that server, producer here, workers forked.
 *
 * Size: 30 workflows from the seed (every shape; 5 % flaky, 2 % doomed, 5 % slow), 3 workers × concurrency 4,
 * leaseMs 1,500; 3 × (`kill -9`, restart on the same `--dir` after 1 s), 2-3 s apart while the load runs.
 * AOF `appendfsync everysec`: a killed process leaves its writes in the page cache, so nothing may be lost.
 *
 * Pass: P1-P5, P7; every pending `result()` resolves (the succeeded result, or WorkflowFailedError for a
 * failed one): never StoreLostError, never a hang. A second producer app first used while Redis is down (its
 * first call may fail) starts a workflow once Redis is back, and that workflow runs to its reference outcome.
 * P6: after the last restart every worker completes a task of a 24-node liveness probe within leaseMs + 5 s.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { requireRedis } from '../support/services.js';
import { WorkflowFailedError, type Canvas, type NoParent } from '../../src/index.js';
import {
  assertNoViolations, drawWorkload, expectedOf, FaultEnv, formatFigures, prng, scenarioSeed, sleep, verify, within, type Tracked,
} from '../support/fault-harness.js';

const gate = await requireRedis();

it('F3: redis-server kill -9 and restart on its AOF loses nothing; pending result() calls resolve', { skip: gate.skip, timeout: 180_000 }, async (t) => {
  const seed = scenarioSeed();
  const rng = prng(seed);
  const env = await FaultEnv.start({ name: 'f3', workers: 3, concurrency: 4, leaseMs: 1_500 });
  try {
    const plans = drawWorkload(seed, env.prefix, 30);
    const results = new Map<string, Promise<string>>();
    // result() is awaited from the moment each workflow starts, across every restart.
    const producing = env.run(plans, {
      staggerMs: 300,
      onStart: (r) => results.set(r.plan.id, r.handle.result().then(
        (value) => (JSON.stringify(value) === JSON.stringify(r.expected.result) ? 'ok' : `resolved ${JSON.stringify(value)?.slice(0, 80)}`),
        (error: unknown) => (error instanceof WorkflowFailedError && r.expected.state === 'failed' ? 'ok' : `rejected ${(error as Error).name}: ${(error as Error).message}`),
      )),
    });
    // A producer app first used while Redis is down: that call may fail (ConfigError) or wait, but once Redis
    // is back the same app must work (a failed first connect must not brick the app).
    const late = env.makeProducer();
    const [latePlan] = drawWorkload(seed + 1, `${env.prefix}-late`, 1, {}, ['nested']);
    let lateFirst = 'not tried';
    const lateRuns: Tracked[] = [];
    const restarts = (async () => {
      for (let i = 0; i < 3; i++) {
        await sleep(2_000 + rng() * 1_000);
        await env.redis.kill();
        env.count('redis.kill9');
        if (i === 0) lateFirst = await late.start(latePlan!.canvas as Canvas<unknown, NoParent>, { workflowId: latePlan!.id }).then(() => 'started', (e: Error) => `${e.name}: ${e.message}`);
        await sleep(1_000);
        await env.redis.restart();
      }
      await env.ledger.setModes(new Map([...latePlan!.modes].map(([node, mode]) => [`${latePlan!.id}/${node}`, mode])));
      const handle = await within(late.start(latePlan!.canvas as Canvas<unknown, NoParent>, { workflowId: latePlan!.id }), 15_000);
      if (handle === 'timeout') throw new Error('the late producer app still cannot start a workflow 15 s after Redis came back');
      lateRuns.push(env.track(latePlan!, handle, expectedOf(latePlan!)));
    })().catch((error: Error) => {
      lateFirst += ` / after Redis came back: ${error.name}: ${error.message}`;
    });
    const [main] = await Promise.all([producing, restarts]);
    const faultsStoppedAt = Date.now();
    const violations: string[] = [];
    const alive = await env.livenessProbe('after-restarts', violations);
    const runs = [...main, ...lateRuns, alive];
    const settle = await env.settleAll(runs, faultsStoppedAt);
    if (settle.unsettled.length > 0) {
      assert.fail(`P1 (BRAID_FAULT_SEED=${seed}): ${settle.unsettled.length} workflows unsettled ${settle.boundMs} ms after faults stopped:\n  ${(await env.describeUnsettled(settle.unsettled)).join('\n  ')}`);
    }
    if (lateRuns.length === 0) violations.push(`a producer app first used while Redis was down never recovered: ${lateFirst}`);
    for (const [id, outcome] of results) {
      const got = await within(outcome, 5_000);
      if (got !== 'ok') violations.push(`result() of ${id}: ${got === 'timeout' ? 'still pending 5 s after the workflow settled' : got}`);
    }
    const { figures } = await verify(env, runs, { seed, violations });
    t.diagnostic(formatFigures('F3', seed, figures, { recoveryMs: settle.recoveryMs, lateProducerFirstCall: lateFirst, logs: env.logDir }));
    assertNoViolations(violations, seed, figures);
  } finally {
    await env.close();
  }
});
