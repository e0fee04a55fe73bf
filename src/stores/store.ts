/**
 * The store interface: where workflow graphs, node states and results persist. Every method that changes
 * state is ONE atomic transition guarded by the state it expects (DESIGN inv 1), safe to run twice with the
 * same arguments (a re-sent command reports `already`, RELIABILITY §1 rules). Implementations: memory
 * (./memory), redis (./redis). The semantics are those of the pure step functions in src/runtime/step/,
 * which the memory store applies directly and the Redis store's Lua scripts mirror; the contract suite in
 * test/contracts/store.contract.ts holds both to them.
 */
import type { ErrorInfo } from '../core/errors.js';
import type { QueuePush } from '../core/queue-push.js';
import type { JsonValue } from '../core/json.js';
import type { WorkflowSnapshot } from '../core/snapshot.js';
import type { ErrbackSpec, GraphNode, Recipe } from '../canvas/graph.js';
import type { SignatureOptions } from '../canvas/values.js';
import type { WorkflowState } from '../runtime/machines.js';
import type { WriteCarrier } from '../core/write-carrier.js';

/** Where and how a node is sent, resolved by the producer when the node is stored. */
export interface Dispatch {
  queue: string;
  priority?: number;
  /** Delay between becoming ready and being allowed to start. */
  countdownMs: number;
  /** Times the node may go back to its queue after its worker died. */
  maxRedeliveries: number;
}

/** A graph node with its dispatch settings: what the store keeps per node. */
export interface NodeSpec extends GraphNode {
  dispatch: Dispatch;
}

/** An errback with its dispatch settings. */
export interface ErrbackNodeSpec extends ErrbackSpec {
  dispatch: Dispatch;
}

/** A compiled graph ready to be stored (a new workflow, or a replacement fragment). */
export interface StoredGraph {
  nodes: NodeSpec[];
  result: Recipe;
  done: string[];
  errbacks: ErrbackNodeSpec[];
}

/** A node that became ready in a transition: the caller publishes a message for it. */
export interface ReadyNode {
  workflowId: string;
  nodeId: string;
  task: string;
  attempt: number;
  queue: string;
  priority?: number;
  /** Not to be delivered before this many ms (countdown, retry delay). */
  delayMs: number;
}

/** Asks to claim a queued node for one attempt. */
export interface ClaimRequest {
  workflowId: string;
  nodeId: string;
  attempt: number;
  task: string;
  /** A token unique to this claim (never reused by any worker); commits and renewals need it. */
  token: string;
  leaseMs: number;
}

/** What a worker needs to run a claimed node. */
export interface ClaimedNode {
  task: string;
  /** Call arguments: the parent result (if any) prepended to the signature's own. */
  args: JsonValue[];
  options: SignatureOptions;
  /** The stored attempt (monotonic; the message's attempt). */
  attempt: number;
  /** Retries used in the current run (0 on the first attempt; reset by replay). */
  retries: number;
  redeliveries: number;
  kind: 'task' | 'errback';
  /** Errbacks covering this node (a replacement inherits them). */
  errbacks: number[];
  /** Total errbacks in the workflow (a replacement's new errbacks are numbered from here). */
  errbackCount: number;
}

/** The outcome of a claim. */
export type ClaimResult =
  | { status: 'claimed'; node: ClaimedNode; already: boolean }
  /** Not due yet (countdown or retry delay): publish again with this delay. */
  | { status: 'early'; delayMs: number }
  /** Attempt, state or token do not match: a duplicate or stale message, or a canceled workflow. */
  | { status: 'stale' }
  /** No such workflow or node. */
  | { status: 'orphan' }
  /** The message's task differs from the stored node's. */
  | { status: 'forged' };

/** Identifies the claim a commit is made under. */
export interface CommitRequest {
  workflowId: string;
  nodeId: string;
  token: string;
}

/**
 * What a completing worker asks of its completion: claim, in the same atomic step, the first node the
 * completion makes ready that this worker would take anyway (no countdown, on one of its queues), so the worker
 * runs it next without a message (a chain's next step, a chord's body). The claimed node is running under
 * `token` like any claim: when the worker dies its lease lapses and the sweep sends it back to its queue.
 */
export interface ContinueRequest {
  /** A token unique to this claim, as {@link ClaimRequest.token}. */
  token: string;
  leaseMs: number;
  /** The queues the worker consumes, or `'*'` for any. */
  queues: readonly string[] | '*';
}

/** A node a completion claimed for the completing worker ({@link ContinueRequest}). */
export interface ContinuedNode {
  /** The message it would have been published with. */
  message: ReadyNode;
  node: ClaimedNode;
}

/** The outcome of a commit. `ready` lists nodes to publish; `settled` is set when this commit settled the workflow. */
export interface CommitResult {
  status: 'ok' | 'already' | 'stale' | 'orphan';
  ready: ReadyNode[];
  settled?: WorkflowState;
  /**
   * The node claimed for the completing worker when a `complete` asked for one ({@link ContinueRequest}); also on
   * `already`, when a re-sent completion finds the node it claimed the first time still running under the token.
   */
  next?: ContinuedNode;
}

/** A successful attempt's commit. */
export interface CompleteRequest extends CommitRequest {
  /** The result's JSON text. */
  result: string;
  /** Kept for dependents, dropped from the workflow once it settles. */
  ignoreResult: boolean;
  /** Claim a node this completion makes ready for the completing worker. */
  next?: ContinueRequest;
}

/** The outcome of a replay. */
export type ReplayResult =
  /** `settled` is set when nothing was left to run and the replay settled the workflow again at once. */
  | { status: 'ok'; ready: ReadyNode[]; nodes: string[]; settled?: WorkflowState }
  | { status: 'missing' }
  | { status: 'refused'; state: WorkflowState }
  | { status: 'unknown_nodes'; nodes: string[] };

/** The outcome of a cancel. */
export interface CancelResult {
  status: 'ok' | 'already' | 'missing';
  state?: WorkflowState;
}

/** What a sweep is asked to do ({@link Store.sweep}). */
export interface SweepOptions {
  republishAfterMs: number;
  /**
   * How long a node this sweep made ready (sent back from a lapsed lease, or an errback a lost node fired) may
   * wait unclaimed before its message is published again (default `republishAfterMs`; never more); then twice,
   * four times that ... until it reaches `republishAfterMs`, and from there as any node. The sweeper publishes
   * that message after the sweep, so a sweeper that dies in between (a worker taken down by a poison task while
   * its sweep was in flight) leaves the node queued with no message: this bounds how long.
   */
  redeliveredRepublishAfterMs?: number;
  limit?: number;
  everyMs?: number;
}

/** What one sweep did. */
export interface SweepResult {
  /** Nodes to publish again: lapsed leases sent back to their queue, and ready nodes left unclaimed too long. */
  ready: ReadyNode[];
  redelivered: number;
  /** Nodes failed with WorkerLostError past `maxRedeliveries`. */
  lost: number;
  /**
   * The messages of those nodes (not to publish: they failed), present when `lost` > 0: what the sweeper keeps
   * as dead letters (Broker.deadLetter; RELIABILITY §1.4).
   */
  lostNodes?: ReadyNode[];
  settled: Array<{ workflowId: string; state: WorkflowState }>;
}

/** The settled outcome of a workflow, cheap to read (no node list). */
export interface WorkflowOutcome {
  state: WorkflowState;
  result?: JsonValue;
  failures: Array<{ nodeId: string; task: string; error: ErrorInfo }>;
}

/** A notification from the store. */
export type StoreEvent =
  | { type: 'settled'; workflowId: string; state: WorkflowState; /** Raw JSON text of the result: only for a succeeded workflow whose result text is at most 16 KiB. */ result?: string }
  | { type: 'canceled'; workflowId: string };

/** One applied node transition, kept in test mode (RELIABILITY §3 ledger). */
export interface TransitionRecord {
  node: string;
  from: string;
  to: string;
  attempt: number;
  token?: string;
}

/** Where workflow state persists. */
export interface Store {
  /** Short name for logs: `memory`, `redis`. */
  readonly kind: string;
  /** Connects; fails with ConfigError when unreachable. Records the store epoch (RELIABILITY D4). */
  connect(): Promise<void>;
  /**
   * Mints a fresh workflow id when the caller gave none (optional; a random UUID otherwise). The Redis store
   * mints ids whose keys share a hash slot with the other ids minted in the same tick, so it can store their
   * transitions in one function call and stay cluster-safe (docs/redis-data-model.md).
   */
  mintWorkflowId?(): string;
  /** Stores the whole graph and marks its ready nodes queued, in one step. Idempotent on the workflow id. */
  create(workflowId: string, graph: StoredGraph): Promise<{ created: boolean; ready: ReadyNode[] }>;
  /**
   * `create`, then `pushes` sent on the same connection right behind it, in the same write (a broker's publishes
   * of the roots: Broker.pushFor), so none can overtake the create; resolves once all have answered. Only a
   * store on a Redis server offers it, for pushes meant for {@link Store.serverUrl}.
   */
  createAndSend?(workflowId: string, graph: StoredGraph, pushes: readonly QueuePush[]): Promise<{ created: boolean }>;
  /** The server `createAndSend` sends to (the store's connection URL). */
  readonly serverUrl?: string;
  /**
   * Lets this store's claims ride in the writes a broker on its server is about to make (Broker.carrier,
   * core/write-carrier.ts). Only a store on a Redis server offers it.
   */
  rideWith?(carrier: WriteCarrier): void;
  claim(request: ClaimRequest): Promise<ClaimResult>;
  /** Extends the lease: `lost` when the claim is no longer held, `canceled` when the workflow was canceled. */
  renew(request: CommitRequest & { leaseMs: number }): Promise<'ok' | 'lost' | 'canceled'>;
  /** The attempt succeeded with this result (JSON text); with `next`, also claims a node it made ready. */
  complete(request: CompleteRequest): Promise<CommitResult>;
  /** The attempt failed for good. */
  fail(request: CommitRequest & { error: ErrorInfo }): Promise<CommitResult>;
  /** The attempt failed and will be retried after `delayMs`. */
  retry(request: CommitRequest & { error: ErrorInfo; delayMs: number }): Promise<CommitResult>;
  /** The node is replaced by a compiled fragment whose result becomes its result. */
  replace(request: CommitRequest & { graph: StoredGraph }): Promise<CommitResult>;
  /**
   * A stopping worker hands back a node it claimed and will not finish: what the sweep does when the lease
   * lapses, now (a counted redelivery, or WorkerLostError past maxRedeliveries). Publish `ready` (the node's new
   * message, or fired errbacks). `stale` when the claim is no longer held.
   */
  release(request: CommitRequest): Promise<CommitResult>;
  cancel(workflowId: string): Promise<CancelResult>;
  /** Re-runs failed, blocked and canceled nodes (or the given ones) and everything downstream. */
  replay(workflowId: string, nodeIds?: readonly string[]): Promise<ReplayResult>;
  snapshot(workflowId: string): Promise<WorkflowSnapshot | null>;
  /** The workflow's state and, once settled, its result or failures; null when unknown. */
  outcome(workflowId: string): Promise<WorkflowOutcome | null>;
  /**
   * Redelivers nodes whose lease lapsed and republishes ready nodes unclaimed for `republishAfterMs`, looking at
   * up to `limit` workflows. `everyMs`: the caller sweeps this often (a worker's sweeper); a store that several
   * workers sweep may then share out one period's work between them instead of doing it once per worker.
   */
  sweep(options: SweepOptions): Promise<SweepResult>;
  /**
   * Listens for settle and cancel notifications, or only those of `types` (a store may then send the others
   * nowhere: a worker wants cancels only, a result waiter settles only). Returns the unsubscribe function.
   */
  subscribe(listener: (event: StoreEvent) => void, types?: ReadonlyArray<StoreEvent['type']>): Promise<() => void>;
  /** The store's identity since its data began; a change means it was wiped (StoreLostError). */
  epoch(): Promise<string | null>;
  /** Applied transitions of a workflow, when the store was made with `history: true` (tests). */
  history(workflowId: string): Promise<TransitionRecord[]>;
  close(): Promise<void>;
}
