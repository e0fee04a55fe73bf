/**
 * Contract, property: a random canvas driven by a random schedule of deliveries, duplicate and stale
 * claims, commits, re-sent commits, sweeps and (with a movable clock) lapsed leases, then drained. Whatever
 * the schedule: every node ends final, no transition is applied twice (except the claim a redelivery
 * repeats), no node is made ready twice per attempt, the workflow settles once, and the outcome is what the
 * reference evaluator gives for the canvas.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { evaluateReference } from '../../../src/canvas/reference.js';
import type { AnyCanvas } from '../../../src/canvas/values.js';
import type { ClaimedNode, CommitRequest, CommitResult, ReadyNode, StoredGraph, TransitionRecord } from '../../../src/stores/store.js';
import { canvasArb, taskResult, world } from '../../support/canvas-arb.js';
import { boom, open, storedGraph, type ContractOptions, type StoreFactory, type StoreHarness } from './harness.js';

type Op =
  | { kind: 'deliver'; pick: number }
  | { kind: 'redeliver-copy'; pick: number }
  | { kind: 'reclaim'; pick: number }
  | { kind: 'stale-claim'; pick: number }
  | { kind: 'commit'; pick: number }
  | { kind: 'resend-commit'; pick: number }
  | { kind: 'sweep' }
  | { kind: 'lapse' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.nat().map((pick) => ({ kind: 'deliver' as const, pick })), weight: 5 },
  { arbitrary: fc.nat().map((pick) => ({ kind: 'redeliver-copy' as const, pick })), weight: 1 },
  { arbitrary: fc.nat().map((pick) => ({ kind: 'reclaim' as const, pick })), weight: 1 },
  { arbitrary: fc.nat().map((pick) => ({ kind: 'stale-claim' as const, pick })), weight: 1 },
  { arbitrary: fc.nat().map((pick) => ({ kind: 'commit' as const, pick })), weight: 5 },
  { arbitrary: fc.nat().map((pick) => ({ kind: 'resend-commit' as const, pick })), weight: 2 },
  { arbitrary: fc.constant({ kind: 'sweep' as const }), weight: 1 },
  { arbitrary: fc.constant({ kind: 'lapse' as const }), weight: 2 },
);

interface Held { nodeId: string; token: string; node: ClaimedNode }
type Sent = { kind: 'complete'; req: CommitRequest & { result: string; ignoreResult: boolean } } | { kind: 'fail'; req: CommitRequest & { error: ReturnType<typeof boom> } } | { kind: 'retry'; req: CommitRequest & { error: ReturnType<typeof boom>; delayMs: number } };

const LEASE_MS = 60_000;

/** One workflow driven by one schedule. */
class Driver {
  readonly pool: ReadyNode[] = [];
  readonly delivered: ReadyNode[] = [];
  readonly held: Held[] = [];
  readonly sent: Sent[] = [];
  readonly starts = new Map<string, number>();
  settledReports = 0;

  constructor(readonly h: StoreHarness, readonly id: string, readonly failing: ReadonlySet<string>, readonly flaky: ReadonlySet<string>) {}

  private take(res: { ready: readonly ReadyNode[] }): void {
    for (const r of res.ready) if (r.workflowId === this.id) this.pool.push(r);
  }

  private noteCommit(res: CommitResult): void {
    this.take(res);
    if (res.settled) this.settledReports++;
  }

  async create(graph: StoredGraph): Promise<void> {
    this.take(await this.h.store.create(this.id, graph));
  }

  private async claim(m: ReadyNode, token: string = randomUUID(), attempt = m.attempt): Promise<void> {
    const res = await this.h.store.claim({ workflowId: this.id, nodeId: m.nodeId, attempt, task: m.task, token, leaseMs: LEASE_MS });
    assert.notEqual(res.status, 'orphan');
    assert.notEqual(res.status, 'forged');
    if (res.status === 'early') this.pool.push({ ...m, delayMs: res.delayMs });
    if (res.status !== 'claimed') return;
    assert.equal(res.node.attempt, attempt);
    if (res.already) return;
    this.starts.set(m.nodeId, (this.starts.get(m.nodeId) ?? 0) + 1);
    // a claim re-sent after its node was redelivered takes the node again under the same token: one holder
    if (!this.held.some((x) => x.token === token)) this.held.push({ nodeId: m.nodeId, token, node: res.node });
  }

  async commit(held: Held): Promise<void> {
    const base = { workflowId: this.id, nodeId: held.nodeId, token: held.token };
    let sent: Sent;
    if (held.node.kind === 'task' && this.failing.has(held.nodeId)) sent = { kind: 'fail', req: { ...base, error: boom(`${held.nodeId} fails`) } };
    else if (held.node.kind === 'task' && this.flaky.has(held.nodeId) && held.node.retries === 0) sent = { kind: 'retry', req: { ...base, error: boom('flaky'), delayMs: 0 } };
    else {
      const result = held.node.kind === 'task' ? taskResult(held.node.task, held.node.args) : null;
      sent = { kind: 'complete', req: { ...base, result: JSON.stringify(result), ignoreResult: false } };
    }
    const res = await this.send(sent);
    // a lapsed lease may have fenced this claim off; anything else must apply
    assert.ok(res.status === 'ok' || res.status === 'stale', `commit answered ${res.status}`);
    if (res.status === 'ok') this.sent.push(sent);
    this.noteCommit(res);
  }

  private send(s: Sent): Promise<CommitResult> {
    const store = this.h.store;
    return s.kind === 'complete' ? store.complete(s.req) : s.kind === 'fail' ? store.fail(s.req) : store.retry(s.req);
  }

  async apply(op: Op): Promise<void> {
    switch (op.kind) {
      case 'deliver': {
        if (this.pool.length === 0) return;
        const [m] = this.pool.splice(op.pick % this.pool.length, 1);
        this.delivered.push(m!);
        return this.claim(m!);
      }
      case 'redeliver-copy': {
        if (this.delivered.length === 0) return;
        return this.claim(this.delivered[op.pick % this.delivered.length]!);
      }
      case 'reclaim': {
        if (this.held.length === 0) return;
        const held = this.held[op.pick % this.held.length]!;
        return this.claim({ workflowId: this.id, nodeId: held.nodeId, task: held.node.task, attempt: held.node.attempt, queue: '', delayMs: 0 }, held.token);
      }
      case 'stale-claim': {
        if (this.delivered.length === 0) return;
        const m = this.delivered[op.pick % this.delivered.length]!;
        const res = await this.h.store.claim({ workflowId: this.id, nodeId: m.nodeId, attempt: m.attempt - 1, task: m.task, token: randomUUID(), leaseMs: LEASE_MS });
        assert.equal(res.status, 'stale');
        return;
      }
      case 'commit': {
        if (this.held.length === 0) return;
        const [held] = this.held.splice(op.pick % this.held.length, 1);
        return this.commit(held!);
      }
      case 'resend-commit': {
        if (this.sent.length === 0) return;
        const s = this.sent[op.pick % this.sent.length]!;
        const res = await this.send(s);
        if (s.kind === 'retry') assert.ok(res.status === 'already' || res.status === 'stale', `re-sent retry answered ${res.status}`);
        else assert.equal(res.status, 'already', `re-sent ${s.kind} of ${s.req.nodeId}`);
        assert.deepEqual(res.ready, []);
        assert.equal(res.settled, undefined);
        return;
      }
      case 'sweep': {
        const res = await this.h.store.sweep({ republishAfterMs: 0 });
        this.take(res);
        this.settledReports += res.settled.filter((s) => s.workflowId === this.id).length;
        return;
      }
      case 'lapse': {
        if (!this.h.advanceClock) return;
        await this.h.advanceClock(LEASE_MS);
        return this.apply({ kind: 'sweep' });
      }
    }
  }

  /** Runs everything still outstanding, fairly, until the workflow settles. */
  async drain(): Promise<void> {
    for (let i = 0; i < 5_000; i++) {
      const outcome = await this.h.store.outcome(this.id);
      if (outcome && outcome.state !== 'running') return;
      if (this.held.length > 0) await this.commit(this.held.shift()!);
      else if (this.pool.length > 0) await this.apply({ kind: 'deliver', pick: 0 });
      else await this.apply({ kind: 'sweep' });
    }
    assert.fail(`workflow ${this.id} did not settle`);
  }
}

/** No transition twice per (node, attempt, from, to), except the claim and lapse a redelivery repeats. */
function checkHistory(history: TransitionRecord[]): void {
  const count = new Map<string, number>();
  const redeliveries = new Map<string, number>();
  for (const r of history) {
    const key = `${r.node}|${r.attempt}|${r.from}|${r.to}`;
    count.set(key, (count.get(key) ?? 0) + 1);
    if (r.from === 'running' && r.to === 'queued') redeliveries.set(`${r.node}|${r.attempt}`, (redeliveries.get(`${r.node}|${r.attempt}`) ?? 0) + 1);
  }
  for (const [key, n] of count) {
    const [node, attempt, from, to] = key.split('|');
    const redelivered = redeliveries.get(`${node}|${attempt}`) ?? 0;
    const repeatable = (from === 'queued' && to === 'running') || (from === 'running' && to === 'queued');
    const allowed = repeatable ? redelivered + 1 : 1;
    assert.ok(n <= allowed, `transition ${key} applied ${n} times (${redelivered} redeliveries)`);
  }
}

export function propertyContract(make: StoreFactory, options: ContractOptions): void {
  describe('property', () => {
    test('random canvases under random schedules end as the reference says, every transition once', { timeout: 600_000 }, async (t) => {
      const h = await open(make, t, { history: true, clock: 'fake' });
      const caseArb = fc.record({
        canvas: canvasArb({ maxDepth: 4 }).filter((c) => storedGraph(c).nodes.length > 0),
        failing: fc.uniqueArray(fc.nat(15), { maxLength: 3 }),
        flaky: fc.uniqueArray(fc.nat(15), { maxLength: 4 }),
        ops: fc.array(opArb, { maxLength: 80 }),
      });
      await fc.assert(fc.asyncProperty(caseArb, async ({ canvas, failing, flaky, ops }) => {
        await runCase(h, canvas, new Set(failing.map((i) => `n${i}`)), new Set(flaky.map((i) => `n${i}`)), ops);
      }), { numRuns: options.propertyRuns ?? 100 });
    });
  });
}

async function runCase(h: StoreHarness, canvas: AnyCanvas, failing: Set<string>, flaky: Set<string>, ops: Op[]): Promise<void> {
  const graph = storedGraph(canvas);
  for (const n of graph.nodes) n.dispatch.maxRedeliveries = 1_000_000;
  const driver = new Driver(h, `wf-${randomUUID()}`, failing, flaky);
  await driver.create(graph);
  for (const op of ops) await driver.apply(op);
  await driver.drain();

  const expected = evaluateReference(canvas, world(failing));
  const outcome = (await h.store.outcome(driver.id))!;
  const snap = (await h.store.snapshot(driver.id))!;
  assert.equal(outcome.state, expected.state);
  assert.equal(snap.state, expected.state);
  if (expected.state === 'succeeded') assert.deepEqual(outcome.result, expected.result);
  assert.equal(driver.settledReports, 1, 'settled reported exactly once');
  const tasks = snap.nodes.filter((n) => n.kind === 'task');
  assert.deepEqual(tasks.map((n) => n.id), [...expected.nodes.keys()]);
  for (const n of tasks) {
    const want = expected.nodes.get(n.id)!;
    assert.equal(n.state, want.state, `state of ${n.id}`);
    assert.deepEqual(n.args, want.args);
    if (want.state === 'succeeded') assert.deepEqual(n.result, want.result, `result of ${n.id}`);
    assert.equal(n.attempts, driver.starts.get(n.id) ?? 0, `starts of ${n.id}`);
  }
  const errbacks = snap.nodes.filter((n) => n.kind === 'errback');
  assert.equal(errbacks.length, expected.errbacksFired.filter(Boolean).length, 'one errback per onError that saw a failure');
  for (const n of snap.nodes) assert.ok(['succeeded', 'failed', 'blocked'].includes(n.state), `${n.id} ended ${n.state}`);
  assert.deepEqual(outcome.failures.map((f) => f.nodeId), tasks.filter((n) => n.state === 'failed').map((n) => n.id));
  checkHistory(await h.store.history(driver.id));
}
