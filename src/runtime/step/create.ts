/**
 * Creating a workflow record from a stored graph: every node pending, then those with no dependencies made
 * ready in the same step (DESIGN inv 4).
 */
import type { ReadyNode, StoredGraph, TransitionRecord } from '../../stores/store.js';
import { markReady, settleIfDone } from './advance.js';
import { addNode, type StepOutput, type WorkflowRecord } from './record.js';

/** Builds the record of a new workflow and lists the nodes to publish. An empty graph cannot occur (a canvas has a node). */
export function createRecord(id: string, graph: StoredGraph, now: number, keepHistory = false): { record: WorkflowRecord; ready: ReadyNode[] } {
  const wf: WorkflowRecord = {
    id, state: 'running', createdAt: now, resultRecipe: graph.result,
    errbacks: [...graph.errbacks], errbackFired: graph.errbacks.map(() => false), errbackRuns: graph.errbacks.map(() => 0),
    nodes: new Map(), order: [], open: 0, failed: 0, active: new Set(),
    ...(keepHistory ? { history: [] as TransitionRecord[] } : {}),
  };
  for (const spec of graph.nodes) addNode(wf, spec, 'task');
  const out: StepOutput = { ready: [] };
  for (const spec of graph.nodes) {
    const node = wf.nodes.get(spec.id)!;
    if (node.remaining === 0) markReady(wf, node, now, out);
  }
  settleIfDone(wf, now, out);
  return { record: wf, ready: out.ready };
}

/**
 * The messages of a graph's roots (nodes with no dependencies): what a create makes ready, known before the
 * store answers (a store that returns them, or a caller that sends them with the create, builds them here).
 */
export function rootMessages(workflowId: string, graph: StoredGraph): ReadyNode[] {
  const out: ReadyNode[] = [];
  for (const spec of graph.nodes) {
    if (spec.deps.length !== 0) continue;
    const d = spec.dispatch;
    // Two literals rather than a spread of an optional part: one message per header node of a chord.
    out.push(d.priority === undefined
      ? { workflowId, nodeId: spec.id, task: spec.task, attempt: 1, queue: d.queue, delayMs: d.countdownMs }
      : { workflowId, nodeId: spec.id, task: spec.task, attempt: 1, queue: d.queue, priority: d.priority, delayMs: d.countdownMs });
  }
  return out;
}
