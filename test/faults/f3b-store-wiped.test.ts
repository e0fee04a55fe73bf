/**
 * F3b — the store wiped under running workflows (RELIABILITY §3, D4, inv 10): redis-server `kill -9`, its dir
 * emptied, restarted (a restart without persistence), mid-run. Store and broker share that server, so queues
 * go too. Producer here, workers forked.
 *
 * Size: 24 workflows from the seed (every shape; 30 % of nodes slow 600-900 ms so many are mid-flight), 3 workers
 * × concurrency 4, leaseMs 1,500; one wipe ~1.5 s after the last start; then 6 fresh workflows.
 *
 * Pass: every `result()` still waiting at the wipe rejects with StoreLostError within 2 × leaseMs of the server
 * answering again (none hangs, and none resolves but with its reference outcome, which only a workflow that
 * settled before the wipe can give: its settle notification may be read just after the kill); a handle made
 * afterwards for a lost id rejects StoreLostError too; no worker crashes or crash-loops and nothing is
 * dead-lettered (orphans are acked, counted); the 6 workflows started after the wipe run to their reference
 * outcome (P2-P5, P7).
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { requireRedis } from '../support/services.js';
import { isDeepStrictEqual } from 'node:util';
import { StoreLostError, WorkflowFailedError } from '../../src/index.js';
import {
  assertNoViolations, drawWorkload, expectedOf, FaultEnv, formatFigures, scenarioSeed, sleep, verify, within, type Expected,
} from '../support/fault-harness.js';

const gate = await requireRedis();

interface Waiter {
  id: string;
  outcome: Promise<{ at: number; what: string }>;
}

/** What `result()` gave when it is the workflow's reference outcome (its result, or its failure). */
const REFERENCE = 'the reference outcome';

/** When `result` settled, and how: {@link REFERENCE}, `StoreLostError`, or what else it resolved or rejected with. */
function outcomeOf(result: Promise<unknown>, expected: Expected): Promise<{ at: number; what: string }> {
  return result.then(
    (value) => ({ at: Date.now(), what: expected.state === 'succeeded' && isDeepStrictEqual(value, expected.result) ? REFERENCE : `resolved ${JSON.stringify(value)}` }),
    (error: unknown) => ({
      at: Date.now(),
      what: error instanceof StoreLostError ? 'StoreLostError'
        : error instanceof WorkflowFailedError && expected.state === 'failed' ? REFERENCE
          : `${(error as Error).name}: ${(error as Error).message}`,
    }),
  );
}

it('F3b: a wiped store is reported (StoreLostError), never waited on; workers keep working', { skip: gate.skip, timeout: 180_000 }, async (t) => {
  const seed = scenarioSeed();
  const env = await FaultEnv.start({ name: 'f3b', workers: 3, concurrency: 4, leaseMs: 1_500 });
  const leaseMs = env.options.leaseMs;
  try {
    const all = drawWorkload(seed, env.prefix, 30, { slow: 0.3 });
    const before = all.slice(0, 24);
    const after = all.slice(24);
    const waiters: Waiter[] = [];
    await env.run(before, {
      staggerMs: 50,
      onStart: (r) => waiters.push({
        id: r.plan.id,
        outcome: outcomeOf(r.handle.result(), expectedOf(r.plan)),
      }),
    });
    await sleep(1_500);
    const wipeAt = Date.now();
    await env.redis.restart({ wipe: true });
    const backAt = Date.now();
    env.count('redis.wipe');

    const violations: string[] = [];
    let settledBefore = 0;
    let lost = 0;
    let worst = 0;
    for (const w of waiters) {
      const got = await within(w.outcome, Math.max(0, backAt + 2 * leaseMs - Date.now()) + 500);
      if (got === 'timeout') {
        violations.push(`${w.id}: result() still waiting ${2 * leaseMs} ms after the wiped server came back`);
        continue;
      }
      // The reference outcome can only come from before the wipe (the wiped store has nothing to give), even
      // when it is heard after `wipeAt`: a settle notification Redis sent just before the kill is read after it.
      if (got.what === REFERENCE || (got.at <= wipeAt && got.what !== 'StoreLostError')) {
        settledBefore++;
        continue;
      }
      if (got.what !== 'StoreLostError') violations.push(`${w.id}: result() ${got.what} after the wipe (expected StoreLostError)`);
      else {
        lost++;
        worst = Math.max(worst, got.at - backAt);
      }
    }
    if (lost === 0) violations.push('no workflow was still running at the wipe: the scenario tested nothing (make nodes slower)');
    const fresh = await within(env.producer.workflow(before[0]!.id).result().then(() => 'resolved', (e: Error) => (e instanceof StoreLostError ? 'StoreLostError' : `${e.name}: ${e.message}`)), 5_000);
    if (fresh !== 'StoreLostError') violations.push(`a new handle on a lost workflow: ${fresh} (expected StoreLostError)`);

    // Workers must still work: fresh workflows on the wiped server run to their reference outcome.
    const runs = await env.run(after, { staggerMs: 100 });
    const faultsStoppedAt = Date.now();
    const settle = await env.settleAll(runs, faultsStoppedAt);
    if (settle.unsettled.length > 0) {
      assert.fail(`P1 (BRAID_FAULT_SEED=${seed}): ${settle.unsettled.length} post-wipe workflows unsettled ${settle.boundMs} ms later:\n  ${(await env.describeUnsettled(settle.unsettled)).join('\n  ')}`);
    }
    const { figures } = await verify(env, runs, { seed, violations });
    t.diagnostic(formatFigures('F3b', seed, figures, {
      waitingAtWipe: lost, settledBeforeWipe: settledBefore, worstStoreLostAfterRestartMs: worst, boundMs: 2 * leaseMs, logs: env.logDir,
    }));
    assertNoViolations(violations, seed, figures);
  } finally {
    await env.close();
  }
});
