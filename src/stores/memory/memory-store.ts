/**
 * The embedded store: workflow records in a Map, advanced by the pure step functions. Every method runs to
 * completion without awaiting in between, so each transition is atomic in this process. Settled workflows
 * are dropped after `retentionMs` (DESIGN inv 9).
 */
import { randomUUID } from 'node:crypto';
import type { WorkflowSnapshot } from '../../core/snapshot.js';
import { claim, complete, fail, release, renew, replace, retry } from '../../runtime/step/attempt.js';
import { cancel, replay } from '../../runtime/step/control.js';
import { createRecord } from '../../runtime/step/create.js';
import type { WorkflowRecord } from '../../runtime/step/record.js';
import { sweepRecord } from '../../runtime/step/sweep.js';
import { outcomeOf, snapshotOf } from '../../runtime/step/view.js';
import type {
  CancelResult, ClaimRequest, ClaimResult, CommitRequest, CommitResult, CompleteRequest, ReadyNode, ReplayResult, Store, StoreEvent,
  StoredGraph, SweepOptions, SweepResult, TransitionRecord, WorkflowOutcome,
} from '../store.js';
import type { ErrorInfo } from '../../core/errors.js';
import type { WorkflowState } from '../../runtime/machines.js';

/** Options of the memory store. */
export interface MemoryStoreOptions {
  /** Clock (epoch ms); injectable for tests. */
  clock?: () => number;
  /** How long a settled workflow is kept (default 7 days). */
  retentionMs?: number;
  /** Keep every applied transition per workflow (tests). */
  history?: boolean;
}

/** A deep copy of JSON data; much faster than structuredClone for large graphs of small objects. */
function copyJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/**
 * Largest result text (bytes of UTF-8) a `settled` event carries (StoreEvent `result`): the Redis store's limit
 * too (src/stores/redis/events.ts), so both stores notify alike; the store contract checks the boundary.
 */
export const SETTLED_RESULT_MAX_BYTES = 16 * 1024;

/** Default retention of settled workflows. */
export const DEFAULT_RETENTION_MS = 7 * 24 * 3600 * 1000;

/** The in-process {@link Store}. */
export class MemoryStore implements Store {
  readonly kind = 'memory';
  private readonly records = new Map<string, WorkflowRecord>();
  private readonly listeners = new Set<(event: StoreEvent) => void>();
  private readonly clock: () => number;
  private readonly retentionMs: number;
  private readonly keepHistory: boolean;
  private readonly storeEpoch = randomUUID();

  constructor(options: MemoryStoreOptions = {}) {
    this.clock = options.clock ?? Date.now;
    this.retentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS;
    this.keepHistory = options.history ?? false;
  }

  async connect(): Promise<void> {}

  async create(workflowId: string, graph: StoredGraph): Promise<{ created: boolean; ready: ReadyNode[] }> {
    if (this.records.has(workflowId)) return { created: false, ready: [] };
    const { record, ready } = createRecord(workflowId, copyJson(graph), this.clock(), this.keepHistory);
    this.records.set(workflowId, record);
    return { created: true, ready };
  }

  async claim(request: ClaimRequest): Promise<ClaimResult> {
    return claim(this.records.get(request.workflowId), request, this.clock());
  }

  async renew(request: CommitRequest & { leaseMs: number }): Promise<'ok' | 'lost' | 'canceled'> {
    return renew(this.records.get(request.workflowId), request, this.clock());
  }

  async complete(request: CompleteRequest): Promise<CommitResult> {
    return this.notify(request.workflowId, complete(this.records.get(request.workflowId), request, this.clock()));
  }

  async fail(request: CommitRequest & { error: ErrorInfo }): Promise<CommitResult> {
    return this.notify(request.workflowId, fail(this.records.get(request.workflowId), request, this.clock()));
  }

  async retry(request: CommitRequest & { error: ErrorInfo; delayMs: number }): Promise<CommitResult> {
    return retry(this.records.get(request.workflowId), request, this.clock());
  }

  async release(request: CommitRequest): Promise<CommitResult> {
    return this.notify(request.workflowId, release(this.records.get(request.workflowId), request, this.clock()));
  }

  async replace(request: CommitRequest & { graph: StoredGraph }): Promise<CommitResult> {
    const graph = copyJson(request.graph);
    return this.notify(request.workflowId, replace(this.records.get(request.workflowId), { ...request, graph }, this.clock()));
  }

  async cancel(workflowId: string): Promise<CancelResult> {
    const result = cancel(this.records.get(workflowId), this.clock());
    if (result.status === 'ok') {
      this.emit({ type: 'canceled', workflowId });
      this.settled(workflowId, 'canceled');
    }
    return result;
  }

  async replay(workflowId: string, nodeIds?: readonly string[]): Promise<ReplayResult> {
    const record = this.records.get(workflowId);
    const result = replay(record, nodeIds, this.clock());
    // A replay with nothing left to run settles again in the same step (see step/control.ts).
    if (result.status === 'ok' && result.settled) this.settled(workflowId, result.settled);
    return result;
  }

  async snapshot(workflowId: string): Promise<WorkflowSnapshot | null> {
    const record = this.records.get(workflowId);
    return record ? snapshotOf(record) : null;
  }

  async outcome(workflowId: string): Promise<WorkflowOutcome | null> {
    const record = this.records.get(workflowId);
    return record ? outcomeOf(record) : null;
  }

  async sweep(options: SweepOptions): Promise<SweepResult> {
    const now = this.clock();
    const result: SweepResult = { ready: [], redelivered: 0, lost: 0, settled: [] };
    for (const [id, record] of this.records) {
      if (record.state !== 'running') {
        if (record.settledAt !== undefined && record.settledAt + this.retentionMs <= now) this.records.delete(id);
        continue;
      }
      const swept = sweepRecord(record, now, options.republishAfterMs, options.redeliveredRepublishAfterMs);
      for (const message of swept.ready) result.ready.push(message);
      if (swept.lostNodes) for (const message of swept.lostNodes) (result.lostNodes ??= []).push(message);
      result.redelivered += swept.redelivered;
      result.lost += swept.lost;
      if (swept.settled) {
        result.settled.push({ workflowId: id, state: swept.settled });
        this.settled(id, swept.settled);
      }
      if (options.limit !== undefined && result.ready.length >= options.limit) break;
    }
    return result;
  }

  async subscribe(listener: (event: StoreEvent) => void, types?: ReadonlyArray<StoreEvent['type']>): Promise<() => void> {
    const heard = types === undefined ? listener : (event: StoreEvent): void => {
      if (types.includes(event.type)) listener(event);
    };
    this.listeners.add(heard);
    return () => this.listeners.delete(heard);
  }

  async epoch(): Promise<string | null> {
    return this.storeEpoch;
  }

  async history(workflowId: string): Promise<TransitionRecord[]> {
    return [...(this.records.get(workflowId)?.history ?? [])];
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }

  private notify(workflowId: string, result: CommitResult): CommitResult {
    if (result.settled) this.settled(workflowId, result.settled);
    return result;
  }

  /** The settle notification: with the result's JSON text when the workflow succeeded and the text is small. */
  private settled(workflowId: string, state: WorkflowState): void {
    const result = state === 'succeeded' ? this.records.get(workflowId)?.result : undefined;
    const small = result !== undefined && Buffer.byteLength(result, 'utf8') <= SETTLED_RESULT_MAX_BYTES;
    this.emit({ type: 'settled', workflowId, state, ...(small ? { result } : {}) });
  }

  private emit(event: StoreEvent): void {
    // Listeners hear of it after the transition returns, never inside it.
    for (const listener of this.listeners) queueMicrotask(() => listener(event));
  }
}
