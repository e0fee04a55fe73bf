/**
 * F6 — duplicate and stale deliveries (RELIABILITY §3, §5 row 8), Redis store + Redis broker, producer here,
 * workers forked. Extra copies of envelopes are published straight through the broker, as D1 re-sends, D5
 * redeliveries or a replayed message would deliver them.
 *
 * Size: 30 workflows from the seed (every shape; 5 % flaky, 2 % doomed, 5 % slow), 3 workers × concurrency 4,
 * leaseMs 1,500. Schedule drawn by fast-check from the seed, per node (fan-out children and errbacks included):
 * each message delivered 1-3 × (0-2 extra copies, 0-1.5 s after the workflow starts, so some arrive before the
 * node exists or is ready, some while it runs), attempts drawn from 1-3 (reordered: a copy of attempt 2 can
 * come before attempt 1, attempt 3 never exists), and 10 % of nodes get one more copy after their workflow
 * settled (the node advanced).
 *
 * Pass: P2-P5, P7; 0 duplicated transitions (history); every extra copy ends acked as stale or orphan (the
 * workers' counters cover at least the copies published) and none is dead-lettered.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { requireRedis } from '../support/services.js';
import { compile } from '../../src/canvas/compile.js';
import { FAN_WIDTH } from '../support/fault-tasks.js';
import {
  assertNoViolations, drawWorkload, FaultEnv, formatFigures, scenarioSeed, sleep, verify, type Tracked, type WorkflowPlan,
} from '../support/fault-harness.js';

const gate = await requireRedis();

interface Copy {
  delayMs: number;
  attempt: number;
}

interface NodeSchedule {
  copies: Copy[];
  afterSettle: boolean;
}

const scheduleArb: fc.Arbitrary<NodeSchedule> = fc.record({
  copies: fc.array(fc.record({ delayMs: fc.integer({ min: 0, max: 1_500 }), attempt: fc.constantFrom(1, 1, 1, 2, 3) }), { maxLength: 2 }),
  afterSettle: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
});

/** Every node a workflow may have, with its task: compiled nodes, fan-out children, errbacks. */
function addressable(plan: WorkflowPlan): Array<{ node: string; task: string }> {
  const graph = compile(plan.canvas);
  const out: Array<{ node: string; task: string }> = [];
  for (const n of graph.nodes) {
    out.push({ node: n.id, task: n.task });
    if (n.task === 'f.fan') for (let i = 0; i < FAN_WIDTH; i++) out.push({ node: `${n.id}.${i}`, task: 'f.work' });
  }
  graph.errbacks.forEach((e, i) => out.push({ node: `e${i}`, task: e.task }));
  return out;
}

it('F6: duplicate and stale deliveries are acked and dropped, never applied twice, never dead-lettered', { skip: gate.skip, timeout: 180_000 }, async (t) => {
  const seed = scenarioSeed();
  const env = await FaultEnv.start({ name: 'f6', workers: 3, concurrency: 4, leaseMs: 1_500 });
  try {
    const plans = drawWorkload(seed, env.prefix, 30);
    const targets = new Map(plans.map((p) => [p.id, addressable(p)]));
    const total = [...targets.values()].reduce((n, list) => n + list.length, 0);
    const [schedules] = fc.sample(fc.array(scheduleArb, { minLength: total, maxLength: total }), { seed, numRuns: 1 });
    let next = 0;
    let published = 0;
    let afterSettle = 0;
    const publishing: Promise<void>[] = [];
    const publish = (id: string, node: string, task: string, attempt: number): Promise<void> =>
      env.publishCopy(id, node, task, attempt).then(() => {
        published++;
      });
    const onStart = (r: Tracked): void => {
      for (const { node, task } of targets.get(r.plan.id)!) {
        const s = schedules![next++]!;
        for (const copy of s.copies) publishing.push(sleep(copy.delayMs).then(() => publish(r.plan.id, node, task, copy.attempt)));
        if (s.afterSettle) {
          afterSettle++;
          publishing.push(r.done.then(() => publish(r.plan.id, node, task, 1)));
        }
      }
    };
    const runs = await env.run(plans, { staggerMs: 150, onStart });
    const settle = await env.settleAll(runs, Date.now());
    if (settle.unsettled.length > 0) {
      assert.fail(`P1 (BRAID_FAULT_SEED=${seed}): ${settle.unsettled.length} workflows unsettled:\n  ${(await env.describeUnsettled(settle.unsettled)).join('\n  ')}`);
    }
    await Promise.all(publishing);
    const { violations, figures } = await verify(env, runs, { seed });
    const dropped = Number(figures.stale) + Number(figures.orphan);
    if (dropped < published) violations.push(`only ${dropped} deliveries acked as stale/orphan for ${published} extra copies published`);
    t.diagnostic(formatFigures('F6', seed, figures, { extraCopies: published, afterSettleCopies: afterSettle, logs: env.logDir }));
    assertNoViolations(violations, seed, figures);
  } finally {
    await env.close();
  }
});
