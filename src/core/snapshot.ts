/**
 * What `wf.status()` returns: a workflow and its nodes as plain data (API.md "Running and inspecting").
 */
import type { JsonValue } from './json.js';
import type { ErrorInfo } from './errors.js';

/** The state of a workflow as users see it. */
export type WorkflowSnapshotState = 'running' | 'succeeded' | 'failed' | 'canceled';

/** The state of a node as users see it. */
export type NodeSnapshotState = 'pending' | 'queued' | 'running' | 'retrying' | 'succeeded' | 'failed' | 'blocked' | 'canceled';

/** One workflow, its state and every node. */
export interface WorkflowSnapshot {
  id: string;
  state: WorkflowSnapshotState;
  /** Epoch ms. */
  createdAt: number;
  /** Epoch ms, once settled. */
  settledAt?: number;
  /** The canvas result, when succeeded. */
  result?: JsonValue;
  /** One per task invocation, in declaration order; nodes added by `ctx.replace` and errbacks come after. */
  nodes: NodeSnapshot[];
}

/** One task invocation. */
export interface NodeSnapshot {
  /** Stable: the same canvas compiles to the same ids. */
  id: string;
  task: string;
  state: NodeSnapshotState;
  /** Ids of the nodes it waits for (an immutable step waits without receiving their results). */
  deps: string[];
  /** Times it started (retries and redeliveries included). */
  attempts: number;
  /** Arguments as written in the signature, before any parent result. */
  args: JsonValue[];
  result?: JsonValue;
  error?: ErrorInfo;
  startedAt?: number;
  finishedAt?: number;
  /** `task` for canvas nodes, `errback` for nodes an `onError` started. */
  kind: 'task' | 'errback';
  /** Queue the node is sent to. */
  queue: string;
  /** Times its worker died while running it. */
  redeliveries: number;
  /** The node this one was started in place of by `ctx.replace`, if any. */
  replacing?: string;
}
