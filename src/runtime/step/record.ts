/**
 * The in-memory form of one workflow that the pure step functions advance, and `move()`, the only place a
 * node's state changes: it checks the transition against the machine's table, keeps the open and failed
 * counters, and appends to the history when one is kept.
 */
import type { ErrorInfo } from '../../core/errors.js';
import type { Recipe } from '../../canvas/graph.js';
import type { ErrbackNodeSpec, NodeSpec, ReadyNode, TransitionRecord } from '../../stores/store.js';
import { FINAL_NODE_STATES, nextNodeState, nextWorkflowState, type NodeEvent, type NodeState, type WorkflowEvent, type WorkflowState } from '../machines.js';

/** One node's stored state. */
export interface NodeRecord {
  spec: NodeSpec;
  kind: 'task' | 'errback';
  state: NodeState;
  /** Dependencies not yet met (for a `waiting` node: replacement nodes not yet done). */
  remaining: number;
  /** Nodes that wait for this one. */
  dependents: string[];
  attempt: number;
  retries: number;
  redeliveries: number;
  /** Times it started. */
  starts: number;
  token?: string;
  /**
   * The token of the claim a sweep or release last handed the node back from: a claim re-sent under it (its
   * reply lost in a cut or a server restart, and the lease lapsed meanwhile) is stale, not a second claim.
   */
  handedBackToken?: string;
  leaseUntil?: number;
  /** Not to start before (countdown, retry delay). */
  notBefore?: number;
  /** When it was last made ready or republished. */
  queuedAt?: number;
  /** Times the sweep republished it since it was last claimed: each republish waits twice as long (see sweep.ts). */
  republished?: number;
  /**
   * Set when a sweep made it ready (sent it back from a lapsed lease, or fired it as an errback of a lost node;
   * sweep.ts): its republishes wait this x 2^republished until that reaches republishAfterMs, instead of
   * republishAfterMs x 2^republished.
   */
  republishSoonerMs?: number;
  startedAt?: number;
  finishedAt?: number;
  /** Result as JSON text. */
  result?: string;
  /** ignoreResult: kept for dependents, dropped once the workflow settles, never shown. */
  hideResult?: boolean;
  error?: ErrorInfo;
  /** Set once the task replaced itself: the fragment's result recipe and the nodes it waits for. */
  replacement?: { result: Recipe; done: string[] };
  /** The node this one was started in place of (replacement nodes). */
  replacing?: string;
}

/** One workflow's stored state. */
export interface WorkflowRecord {
  id: string;
  state: WorkflowState;
  createdAt: number;
  settledAt?: number;
  resultRecipe: Recipe;
  /** The workflow result as JSON text, once succeeded. */
  result?: string;
  errbacks: ErrbackNodeSpec[];
  errbackFired: boolean[];
  errbackRuns: number[];
  nodes: Map<string, NodeRecord>;
  /** Node ids in creation order (declaration order, then replacements and errbacks). */
  order: string[];
  /** Nodes not in a final state. */
  open: number;
  /** Task nodes in state failed. */
  failed: number;
  /** Ids of nodes in queued, retrying or running (what a sweep looks at). */
  active: Set<string>;
  history?: TransitionRecord[];
}

/** Collects what one step produces besides the state change. */
export interface StepOutput {
  ready: ReadyNode[];
  settled?: WorkflowState;
}

/** A transition the machine refuses was attempted: a bug in a step, never an input error. */
export class IllegalTransition extends Error {
  constructor(node: string, from: string, event: string) {
    super(`node ${node}: ${event} is not allowed from ${from}`);
  }
}

const ACTIVE: ReadonlySet<NodeState> = new Set(['queued', 'retrying', 'running']);

/** Moves a node by one machine event; throws IllegalTransition where the machine refuses it. */
export function move(wf: WorkflowRecord, node: NodeRecord, event: NodeEvent): void {
  const from = node.state;
  const to = nextNodeState(from, event);
  if (to === undefined) throw new IllegalTransition(node.spec.id, from, event);
  const wasFinal = FINAL_NODE_STATES.has(from);
  const isFinal = FINAL_NODE_STATES.has(to);
  if (wasFinal && !isFinal) wf.open++;
  if (!wasFinal && isFinal) wf.open--;
  if (node.kind === 'task') {
    if (from === 'failed') wf.failed--;
    if (to === 'failed') wf.failed++;
  }
  if (ACTIVE.has(to)) wf.active.add(node.spec.id);
  else wf.active.delete(node.spec.id);
  node.state = to;
  wf.history?.push({ node: node.spec.id, from, to, attempt: node.attempt, ...(node.token ? { token: node.token } : {}) });
}

/** Moves a workflow by one machine event; throws where the machine refuses it. */
export function moveWorkflow(wf: WorkflowRecord, event: WorkflowEvent): void {
  const to = nextWorkflowState(wf.state, event);
  if (to === undefined) throw new IllegalTransition(`workflow ${wf.id}`, wf.state, event);
  wf.state = to;
}

/** Adds a node record in state `pending` (counted open). */
export function addNode(wf: WorkflowRecord, spec: NodeSpec, kind: 'task' | 'errback', attempt = 1): NodeRecord {
  const node: NodeRecord = { spec, kind, state: 'pending', remaining: spec.deps.length, dependents: [], attempt, retries: 0, redeliveries: 0, starts: 0 };
  wf.nodes.set(spec.id, node);
  wf.order.push(spec.id);
  wf.open++;
  for (const dep of spec.deps) wf.nodes.get(dep)?.dependents.push(spec.id);
  return node;
}

/** The message to publish for a node now ready. */
export function readyMessage(wf: WorkflowRecord, node: NodeRecord, delayMs: number): ReadyNode {
  const d = node.spec.dispatch;
  return {
    workflowId: wf.id, nodeId: node.spec.id, task: node.spec.task, attempt: node.attempt, queue: d.queue,
    ...(d.priority !== undefined ? { priority: d.priority } : {}), delayMs,
  };
}
