/**
 * What the store contract needs from a store under test, and the small driver its tests share. A store is
 * made fresh for each test (sweeps look at every workflow in a store, so tests must not see each other's).
 *
 * Clocks: most tests use the store's own clock, so a store that reads its server's time (Redis `TIME`) runs
 * them unchanged: a lease is made to lapse with `leaseMs: 1` and a bounded poll of `sweep`, a delay is made
 * due with `delayMs: 0`. The few tests that must move time ask for `clock: 'fake'`; a store that cannot fake
 * its clock returns no `advanceClock` and those tests are skipped.
 */
import { randomUUID } from 'node:crypto';
import { compile, type CompileOptions } from '../../../src/canvas/compile.js';
import { Signature, type AnyCanvas, type SignatureOptions } from '../../../src/canvas/values.js';
import type { ErrorInfo } from '../../../src/core/errors.js';
import type { JsonValue } from '../../../src/core/json.js';
import { resolveOptions } from '../../../src/core/options.js';
import type { NodeSnapshot, WorkflowSnapshot } from '../../../src/core/snapshot.js';
import type {
  ClaimedNode, ClaimResult, CommitResult, Dispatch, ReadyNode, Store, StoreEvent, StoredGraph, SweepResult,
} from '../../../src/stores/store.js';

/** What a test asks of the factory. */
export interface StoreHarnessOptions {
  /** `fake`: the test moves the store's clock with `advanceClock`. Default: the store's own clock. */
  clock?: 'real' | 'fake';
  /** Make the store keep transition history (`Store.history`). */
  history?: boolean;
}

/** A connected store, fresh for one test. */
export interface StoreHarness {
  store: Store;
  /** Closes the store and removes everything the test wrote. */
  cleanup(): Promise<void>;
  /** Present only when the store was made with `clock: 'fake'` and can move its clock. */
  advanceClock?(ms: number): void | Promise<void>;
}

/** Makes a fresh, connected store. */
export type StoreFactory = (options: StoreHarnessOptions) => Promise<StoreHarness>;

/** Tuning of the contract for slow stores. */
export interface ContractOptions {
  /** Runs of the property test (default 100). */
  propertyRuns?: number;
}

/** Dispatch the way a producer would resolve it from a node's merged options. */
export function dispatchOf(options: SignatureOptions): Dispatch {
  const o = resolveOptions(options);
  return {
    queue: o.queue, countdownMs: o.countdownMs, maxRedeliveries: o.maxRedeliveries,
    ...(o.priority !== undefined ? { priority: o.priority } : {}),
  };
}

/** Compiles a canvas into the graph a store keeps. */
export function storedGraph(canvas: AnyCanvas, options: CompileOptions = {}): StoredGraph {
  const g = compile(canvas, options);
  return {
    nodes: g.nodes.map((n) => ({ ...n, dispatch: dispatchOf(n.options) })),
    result: g.result, done: g.done,
    errbacks: g.errbacks.map((e) => ({ ...e, dispatch: dispatchOf(e.options) })),
  };
}

/** The fragment a claimed node replaces itself with (ids `${nodeId}.k`, inheriting the node's errbacks). */
export function fragmentGraph(canvas: AnyCanvas, nodeId: string, claimed: ClaimedNode): StoredGraph {
  return storedGraph(canvas, { idPrefix: `${nodeId}.`, inheritedErrbacks: claimed.errbacks, errbackBase: claimed.errbackCount });
}

/** An error as a worker would store it. */
export function boom(message = 'boom'): ErrorInfo {
  return { name: 'Error', message, stack: `Error: ${message}\n    at test` };
}

/** A fresh workflow id (ids from different tests never collide, even on a shared server). */
export function newWorkflowId(): string {
  return `wf-${randomUUID()}`;
}

/** A successful claim with the token it was made under. */
export interface Claim {
  token: string;
  node: ClaimedNode;
  attempt: number;
}

/**
 * Drives one workflow through the Store API the way workers would, remembering the latest message published
 * for each node (a message carries the attempt a claim must name).
 */
export class Run {
  readonly id: string;
  /** The latest message for each node. */
  readonly messages = new Map<string, ReadyNode>();
  /** Every message published, in order. */
  readonly published: ReadyNode[] = [];

  constructor(readonly store: Store, id = newWorkflowId()) {
    this.id = id;
  }

  /** Records the messages of a result. */
  note(ready: readonly ReadyNode[]): void {
    for (const r of ready) {
      if (r.workflowId !== this.id) continue;
      this.messages.set(r.nodeId, r);
      this.published.push(r);
    }
  }

  async create(canvasOrGraph: AnyCanvas | StoredGraph): Promise<{ created: boolean; ready: ReadyNode[] }> {
    const graph = 'nodes' in canvasOrGraph ? canvasOrGraph : storedGraph(canvasOrGraph);
    const res = await this.store.create(this.id, graph);
    this.note(res.ready);
    return res;
  }

  /** The message for a node (throws when none was published: the test is wrong). */
  message(nodeId: string): ReadyNode {
    const m = this.messages.get(nodeId);
    if (!m) throw new Error(`test: no message was published for ${nodeId}`);
    return m;
  }

  /** Claims a node with its latest message's attempt (or the given one). */
  async tryClaim(nodeId: string, opts: { token?: string; attempt?: number; leaseMs?: number; task?: string } = {}): Promise<ClaimResult & { token: string }> {
    const m = this.messages.get(nodeId);
    const token = opts.token ?? randomUUID();
    const res = await this.store.claim({
      workflowId: this.id, nodeId, attempt: opts.attempt ?? m?.attempt ?? 1, task: opts.task ?? m?.task ?? 't',
      token, leaseMs: opts.leaseMs ?? 60_000,
    });
    return { ...res, token };
  }

  /** Claims a node and insists that it works. */
  async claim(nodeId: string, opts: { token?: string; leaseMs?: number } = {}): Promise<Claim> {
    const res = await this.tryClaim(nodeId, opts);
    if (res.status !== 'claimed') throw new Error(`test: claim of ${nodeId} gave ${JSON.stringify(res)}`);
    return { token: res.token, node: res.node, attempt: res.node.attempt };
  }

  async complete(nodeId: string, token: string, result: JsonValue, ignoreResult = false): Promise<CommitResult> {
    const res = await this.store.complete({ workflowId: this.id, nodeId, token, result: JSON.stringify(result), ignoreResult });
    this.note(res.ready);
    return res;
  }

  async fail(nodeId: string, token: string, error: ErrorInfo = boom()): Promise<CommitResult> {
    const res = await this.store.fail({ workflowId: this.id, nodeId, token, error });
    this.note(res.ready);
    return res;
  }

  async retry(nodeId: string, token: string, delayMs: number, error: ErrorInfo = boom('again')): Promise<CommitResult> {
    const res = await this.store.retry({ workflowId: this.id, nodeId, token, error, delayMs });
    this.note(res.ready);
    return res;
  }

  async replace(nodeId: string, token: string, graph: StoredGraph): Promise<CommitResult> {
    const res = await this.store.replace({ workflowId: this.id, nodeId, token, graph });
    this.note(res.ready);
    return res;
  }

  /** Claims and completes a node; returns the commit's result. */
  async run(nodeId: string, result: JsonValue): Promise<CommitResult> {
    const c = await this.claim(nodeId);
    const res = await this.complete(nodeId, c.token, result);
    if (res.status !== 'ok') throw new Error(`test: complete of ${nodeId} gave ${res.status}`);
    return res;
  }

  /** Claims and fails a node for good. */
  async runFail(nodeId: string, error: ErrorInfo = boom()): Promise<CommitResult> {
    const c = await this.claim(nodeId);
    const res = await this.fail(nodeId, c.token, error);
    if (res.status !== 'ok') throw new Error(`test: fail of ${nodeId} gave ${res.status}`);
    return res;
  }

  async snapshot(): Promise<WorkflowSnapshot> {
    const s = await this.store.snapshot(this.id);
    if (!s) throw new Error(`test: workflow ${this.id} is missing`);
    return s;
  }

  async node(nodeId: string): Promise<NodeSnapshot> {
    const n = (await this.snapshot()).nodes.find((x) => x.id === nodeId);
    if (!n) throw new Error(`test: node ${nodeId} is missing`);
    return n;
  }

  /** Node id -> state. */
  async states(): Promise<Record<string, string>> {
    return Object.fromEntries((await this.snapshot()).nodes.map((n) => [n.id, n.state]));
  }

  async replay(nodes?: readonly string[]) {
    const res = await this.store.replay(this.id, nodes);
    if (res.status === 'ok') this.note(res.ready);
    return res;
  }

  async sweep(republishAfterMs: number, redeliveredRepublishAfterMs?: number): Promise<SweepResult> {
    const res = await this.store.sweep(redeliveredRepublishAfterMs === undefined ? { republishAfterMs } : { republishAfterMs, redeliveredRepublishAfterMs });
    this.note(res.ready);
    return res;
  }
}

/** Node ids of the messages in a result, sorted. */
export function readyIds(res: { ready: readonly ReadyNode[] }): string[] {
  return res.ready.map((r) => r.nodeId).sort();
}

/**
 * Sweeps until `done(accumulated)` holds: the way to see a 1 ms lease lapse on a store whose clock is not ours.
 * Bounded: fails after `tries` sweeps (a sweep every 2 ms), never loops forever.
 */
export async function sweepUntil(run: Run, done: (all: SweepResult) => boolean, opts: { republishAfterMs?: number; tries?: number } = {}): Promise<SweepResult> {
  const all: SweepResult = { ready: [], redelivered: 0, lost: 0, settled: [] };
  const tries = opts.tries ?? 500;
  for (let i = 0; i < tries; i++) {
    const r = await run.sweep(opts.republishAfterMs ?? 3_600_000);
    all.ready.push(...r.ready);
    all.redelivered += r.redelivered;
    all.lost += r.lost;
    if (r.lostNodes) (all.lostNodes ??= []).push(...r.lostNodes);
    all.settled.push(...r.settled);
    if (done(all)) return all;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  throw new Error(`sweepUntil: condition not met after ${tries} sweeps: ${JSON.stringify(all)}`);
}

/** Opens a fresh store for one test and cleans it up when the test ends. */
export async function open(make: StoreFactory, t: { after(fn: () => Promise<void>): void }, opts: StoreHarnessOptions = {}): Promise<StoreHarness> {
  const h = await make(opts);
  t.after(() => h.cleanup());
  return h;
}

/**
 * Collects store events. `barrier()` creates and cancels a throwaway workflow and resolves once its own
 * `settled` event arrives: notifications are delivered in order, so anything the test caused before the
 * barrier has been heard by then (no sleep standing in for "no more events").
 */
export async function listen(store: Store): Promise<{ events: StoreEvent[]; barrier(): Promise<void>; stop(): void }> {
  const events: StoreEvent[] = [];
  const waiters = new Map<string, () => void>();
  const stop = await store.subscribe((e) => {
    events.push(e);
    if (e.type === 'settled') waiters.get(e.workflowId)?.();
  });
  return {
    events,
    stop,
    async barrier() {
      const id = newWorkflowId();
      const heard = new Promise<void>((resolve) => waiters.set(id, resolve));
      await store.create(id, storedGraph(new Signature('marker', [], false)));
      await store.cancel(id);
      await heard;
    },
  };
}
