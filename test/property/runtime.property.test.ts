/**
 * The runtime against the reference evaluator, on random canvases (nesting up to depth 5, empty groups and
 * headers, immutable steps, errbacks, queues) with random node behaviours: failing for good, flaky within the
 * retry bound (retried automatically, then succeed), and flaky past it (fail). In every mode, a workflow ends
 * as `evaluateReference` says: its result (or failure), which nodes end succeeded / failed / blocked with
 * which results, and which errbacks ran — each exactly once.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import fc from 'fast-check';
import { compile } from '../../src/canvas/compile.js';
import { evaluateReference, type ReferenceOutcome } from '../../src/canvas/reference.js';
import { WorkflowFailedError, type AnyCanvas, type JsonValue, type NoParent, type Canvas } from '../../src/index.js';
import { canvasArb, taskResult } from '../support/canvas-arb.js';
import { forEachMode } from '../support/modes.js';

const MAX_RETRIES = 2;
const NUM_RUNS = 50;

class Flaky extends Error {
  override name = 'Flaky';
}

/** How one node behaves: succeeds, fails for good, or throws Flaky on its first `flakes` attempts. */
type Behaviour = { kind: 'ok' } | { kind: 'fail' } | { kind: 'flaky'; flakes: number };

const behaviourArb: fc.Arbitrary<Behaviour> = fc.oneof(
  { arbitrary: fc.constant({ kind: 'fail' as const }), weight: 2 },
  { arbitrary: fc.integer({ min: 1, max: MAX_RETRIES }).map((flakes) => ({ kind: 'flaky' as const, flakes })), weight: 3 },
  { arbitrary: fc.constant({ kind: 'flaky' as const, flakes: MAX_RETRIES + 1 }), weight: 1 },
);

/** Behaviours by node id; nodes not listed succeed. */
const planArb = fc.array(fc.tuple(fc.nat(30), behaviourArb), { maxLength: 6 })
  .map((entries): ReadonlyMap<string, Behaviour> => new Map(entries.map(([i, b]) => [`n${i}`, b])));

const caseArb = fc.record({
  canvas: canvasArb({ maxDepth: 5 }).filter((c) => compile(c).nodes.length <= 40),
  plan: planArb,
});

function referenceOutcome(plan: ReadonlyMap<string, Behaviour>): (task: string, args: JsonValue[], nodeId: string) => ReferenceOutcome {
  return (task, args, nodeId) => {
    const b = plan.get(nodeId) ?? { kind: 'ok' };
    const fails = b.kind === 'fail' || (b.kind === 'flaky' && b.flakes > MAX_RETRIES);
    return fails ? { error: `${nodeId} fails` } : { ok: taskResult(task, args) };
  };
}

forEachMode((mode) => {
  it(`random canvases end as the reference evaluator says (${NUM_RUNS} runs)`, { timeout: 120_000 }, async () => {
    const t = await mode.create({
      app: { defaults: { maxRetries: MAX_RETRIES, autoretryFor: [Flaky], retryDelayMs: 0 } },
      worker: { queues: ['default', 'q1', 'q2', 'q3'], concurrency: 8 },
    });
    const plans = new Map<string, ReadonlyMap<string, Behaviour>>();
    const starts = new Map<string, number>();
    const errbackCalls = new Map<string, Array<{ task: string; args: unknown[] }>>();
    for (const name of ['t.a', 't.b', 't.c']) {
      t.app.task(name, (ctx, ...args: JsonValue[]) => {
        const key = ctx.idempotencyKey;
        starts.set(key, (starts.get(key) ?? 0) + 1);
        const b = plans.get(ctx.workflowId)?.get(ctx.nodeId) ?? { kind: 'ok' };
        if (b.kind === 'fail') throw new Error(`${ctx.nodeId} fails`);
        if (b.kind === 'flaky' && ctx.attempt <= b.flakes) throw new Flaky(`${ctx.nodeId} attempt ${ctx.attempt}`);
        return taskResult(name, args);
      });
    }
    for (const name of ['eb.a', 'eb.b']) {
      t.app.task(name, (ctx, ...args: unknown[]) => {
        const calls = errbackCalls.get(ctx.workflowId) ?? [];
        errbackCalls.set(ctx.workflowId, calls);
        calls.push({ task: name, args });
        return null;
      });
    }

    let run = 0;
    await fc.assert(fc.asyncProperty(caseArb, async ({ canvas, plan }) => {
      const workflowId = `prop-${run++}`;
      plans.set(workflowId, plan);
      const expected = evaluateReference(canvas, referenceOutcome(plan));
      const wf = await t.start(canvas as Canvas<unknown, NoParent>, { workflowId });

      const outcome = await wf.result().then((value) => ({ value }), (error: unknown) => ({ error }));
      if (expected.state === 'succeeded') {
        assert.ok('value' in outcome, `expected success, got ${String((outcome as { error: unknown }).error)}`);
        assert.deepEqual(outcome.value, expected.result);
      } else {
        assert.ok('error' in outcome && outcome.error instanceof WorkflowFailedError, 'expected WorkflowFailedError');
        const failedIds = [...expected.nodes].filter(([, n]) => n.state === 'failed').map(([id]) => id);
        assert.deepEqual(outcome.error.failures.map((f) => f.nodeId), failedIds);
      }

      const snap = await wf.status();
      const taskNodes = snap.nodes.filter((n) => n.kind === 'task');
      assert.deepEqual(
        taskNodes.map((n) => [n.id, n.task, n.state, n.args, n.result]),
        [...expected.nodes].map(([id, n]) => [id, n.task, n.state, n.args, n.result]),
      );
      // Each node that ran started once per attempt it needed; blocked nodes never started.
      for (const n of taskNodes) {
        const b = plan.get(n.id) ?? { kind: 'ok' };
        const needed = n.state === 'blocked' ? 0 : b.kind === 'flaky' ? Math.min(b.flakes, MAX_RETRIES) + 1 : 1;
        assert.equal(starts.get(`${workflowId}/${n.id}`) ?? 0, needed, `starts of ${n.id}`);
        assert.equal(n.attempts, needed, `attempts of ${n.id}`);
      }
      // Errbacks: exactly the fired ones ran, once each, as node e<index>.
      const fired = expected.errbacksFired.flatMap((f, i) => (f ? [`e${i}`] : []));
      const errbackNodes = snap.nodes.filter((n) => n.kind === 'errback');
      assert.deepEqual(errbackNodes.map((n) => [n.id, n.state, n.attempts]).sort(), fired.map((id) => [id, 'succeeded', 1]).sort());
      assert.equal((errbackCalls.get(workflowId) ?? []).length, fired.length);
      for (const call of errbackCalls.get(workflowId) ?? []) {
        const info = call.args[0] as { nodeId?: string; workflowId?: string } | undefined;
        if (info && typeof info === 'object') {
          assert.equal(info.workflowId, workflowId);
          assert.equal(expected.nodes.get(info.nodeId!)?.state, 'failed', 'an errback reports a node that failed');
        }
      }
    }), { numRuns: NUM_RUNS });
  });
});

// The arbitrary really produces what the property claims to cover (guards against a vacuous property).
it('the canvas cases cover nesting depth 5, empty groups, immutable steps, failures and flakes', () => {
  const seen = { deep: false, emptyGroup: false, immutable: false, fail: false, flaky: false, exhausted: false, errback: false };
  const depth = (c: AnyCanvas): number => {
    if ('steps' in c) return 1 + Math.max(...c.steps.map(depth));
    if ('members' in c) return 1 + Math.max(0, ...c.members.map(depth));
    if ('header' in c) return 1 + Math.max(depth(c.body), ...c.header.map(depth));
    return 0;
  };
  const walk = (c: AnyCanvas): void => {
    if (c.errbacks.length > 0) seen.errback = true;
    if ('task' in c) seen.immutable ||= c.immutable;
    else if ('steps' in c) c.steps.forEach(walk);
    else if ('members' in c) {
      if (c.members.length === 0) seen.emptyGroup = true;
      c.members.forEach(walk);
    } else {
      c.header.forEach(walk);
      walk(c.body);
    }
  };
  for (const { canvas, plan } of fc.sample(caseArb, { numRuns: 500, seed: 42 })) {
    if (depth(canvas) >= 5) seen.deep = true;
    walk(canvas);
    for (const b of plan.values()) {
      if (b.kind === 'fail') seen.fail = true;
      else if (b.kind === 'flaky' && b.flakes <= MAX_RETRIES) seen.flaky = true;
      else if (b.kind === 'flaky') seen.exhausted = true;
    }
  }
  assert.deepEqual(seen, { deep: true, emptyGroup: true, immutable: true, fail: true, flaky: true, exhausted: true, errback: true });
});
