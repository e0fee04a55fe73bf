/**
 * Read-only views of a workflow record: the snapshot users see and the cheap settled outcome.
 */
import type { JsonValue } from '../../core/json.js';
import type { NodeSnapshot, NodeSnapshotState, WorkflowSnapshot } from '../../core/snapshot.js';
import type { WorkflowOutcome } from '../../stores/store.js';
import type { NodeRecord, WorkflowRecord } from './record.js';

/** The snapshot of a workflow (deep copies; nothing shared with the record). */
export function snapshotOf(wf: WorkflowRecord): WorkflowSnapshot {
  const snapshot: WorkflowSnapshot = {
    id: wf.id, state: wf.state, createdAt: wf.createdAt,
    nodes: wf.order.map((id) => nodeSnapshot(wf.nodes.get(id)!)),
  };
  if (wf.settledAt !== undefined) snapshot.settledAt = wf.settledAt;
  if (wf.result !== undefined) snapshot.result = JSON.parse(wf.result) as JsonValue;
  return snapshot;
}

function nodeSnapshot(node: NodeRecord): NodeSnapshot {
  const state: NodeSnapshotState = node.state === 'waiting' ? 'running' : node.state;
  const s: NodeSnapshot = {
    id: node.spec.id, task: node.spec.task, state, deps: [...node.spec.deps], attempts: node.starts,
    args: structuredClone(node.spec.args), kind: node.kind, queue: node.spec.dispatch.queue, redeliveries: node.redeliveries,
  };
  if (node.result !== undefined && !node.hideResult) s.result = JSON.parse(node.result) as JsonValue;
  if (node.error) s.error = { ...node.error };
  if (node.startedAt !== undefined) s.startedAt = node.startedAt;
  if (node.finishedAt !== undefined) s.finishedAt = node.finishedAt;
  if (node.replacing !== undefined) s.replacing = node.replacing;
  return s;
}

/** The workflow's state, and its result or failures once settled. */
export function outcomeOf(wf: WorkflowRecord): WorkflowOutcome {
  const failures: WorkflowOutcome['failures'] = [];
  if (wf.state === 'failed') {
    for (const id of wf.order) {
      const n = wf.nodes.get(id)!;
      // A replaced node fails with its fragment's error: the fragment node is the failure to report.
      if (n.kind === 'task' && n.state === 'failed' && n.error && !n.replacement) failures.push({ nodeId: id, task: n.spec.task, error: { ...n.error } });
    }
  }
  return { state: wf.state, failures, ...(wf.result !== undefined ? { result: JSON.parse(wf.result) as JsonValue } : {}) };
}
