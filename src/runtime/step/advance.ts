/**
 * How completions spread through the graph: a success decrements its dependents' counters (fan-in is a
 * counter, DESIGN inv 3) and makes ready those that reach zero; a failure fires errbacks and blocks what is
 * downstream; when nothing is left open the workflow settles, once (inv 7). Worklists, not recursion, so a
 * long chain of replaced nodes cannot overflow the stack.
 */
import type { ErrorInfo } from '../../core/errors.js';
import type { JsonValue } from '../../core/json.js';
import { buildFromRecipe, type Recipe } from '../../canvas/graph.js';
import { addNode, move, moveWorkflow, readyMessage, type NodeRecord, type StepOutput, type WorkflowRecord } from './record.js';

/** Marks a pending node ready: queued, due after its countdown, and listed for publishing. */
export function markReady(wf: WorkflowRecord, node: NodeRecord, now: number, out: StepOutput): void {
  move(wf, node, 'DEPS_MET');
  const delay = node.spec.dispatch.countdownMs;
  node.queuedAt = now;
  node.notBefore = now + delay;
  out.ready.push(readyMessage(wf, node, delay));
}

/** Reads a node's result as a value (the node must have one). */
export function resultOf(wf: WorkflowRecord, nodeId: string): JsonValue {
  const text = wf.nodes.get(nodeId)?.result;
  return text === undefined ? null : (JSON.parse(text) as JsonValue);
}

/** Builds a value from a recipe over the stored results. */
export function buildValue(wf: WorkflowRecord, recipe: Recipe): JsonValue {
  return buildFromRecipe(recipe, (id) => resultOf(wf, id));
}

/**
 * Records a success (SUCCEED from running, RESOLVE from waiting) and spreads it: dependents whose counter
 * reaches zero become ready, or resolve at once when they are replaced nodes waiting for this one.
 */
export function succeed(wf: WorkflowRecord, first: NodeRecord, event: 'SUCCEED' | 'RESOLVE', result: string, now: number, out: StepOutput): void {
  const work: Array<{ node: NodeRecord; event: 'SUCCEED' | 'RESOLVE'; result: string }> = [{ node: first, event, result }];
  while (work.length > 0) {
    const { node, event: e, result: r } = work.pop()!;
    move(wf, node, e);
    node.result = r;
    delete node.error;
    node.finishedAt = now;
    for (const id of node.dependents) {
      const dep = wf.nodes.get(id)!;
      if (dep.state !== 'pending' && dep.state !== 'waiting') continue;
      // A waiting node waits for its fragment only, not for its own (replayed) dependencies.
      if (dep.state === 'waiting' && node.replacing !== dep.spec.id) continue;
      dep.remaining--;
      if (dep.remaining > 0) continue;
      if (dep.state === 'pending') markReady(wf, dep, now, out);
      else work.push({ node: dep, event: 'RESOLVE', result: JSON.stringify(buildValue(wf, dep.replacement!.result)) });
    }
  }
}

/**
 * Records a failure for good (FAIL or LOSE) and spreads it: errbacks covering the node fire once each, pending
 * dependents become blocked, and replaced nodes waiting downstream fail with the same error.
 */
export function failHard(wf: WorkflowRecord, first: NodeRecord, event: 'FAIL' | 'LOSE', error: ErrorInfo, now: number, out: StepOutput): void {
  move(wf, first, event);
  first.error = error;
  first.finishedAt = now;
  fireErrbacks(wf, first, error, now, out);
  const work: string[] = [...first.dependents];
  while (work.length > 0) {
    const dep = wf.nodes.get(work.pop()!)!;
    if (dep.state === 'pending') {
      move(wf, dep, 'BLOCK');
      dep.finishedAt = now;
    } else if (dep.state === 'waiting') {
      move(wf, dep, 'FAIL');
      dep.error = error;
      dep.finishedAt = now;
      fireErrbacks(wf, dep, error, now, out);
    } else continue;
    for (const id of dep.dependents) work.push(id);
  }
}

/** Starts each errback covering `node` that has not fired in this run of the workflow. */
function fireErrbacks(wf: WorkflowRecord, node: NodeRecord, error: ErrorInfo, now: number, out: StepOutput): void {
  if (node.kind !== 'task') return;
  for (const index of node.spec.errbacks) {
    const spec = wf.errbacks[index];
    if (!spec || wf.errbackFired[index]) continue;
    wf.errbackFired[index] = true;
    const runs = wf.errbackRuns[index] ?? 0;
    const id = runs === 0 ? `e${index}` : `e${index}.${runs}`;
    const info = { workflowId: wf.id, nodeId: node.spec.id, task: node.spec.task, error: { ...error } };
    const args: JsonValue[] = spec.immutable ? [...spec.args] : [info as unknown as JsonValue, ...spec.args];
    const errbackNode = addNode(wf, { id, task: spec.task, args, options: spec.options, deps: [], input: null, errbacks: [], dispatch: spec.dispatch }, 'errback');
    markReady(wf, errbackNode, now, out);
  }
}

/** Settles the workflow when nothing is left open: failed when a task node failed, else succeeded with its result. */
export function settleIfDone(wf: WorkflowRecord, now: number, out: StepOutput): void {
  if (wf.state !== 'running' || wf.open > 0) return;
  if (wf.failed > 0) moveWorkflow(wf, 'SETTLE_FAILED');
  else {
    moveWorkflow(wf, 'SETTLE_SUCCEEDED');
    wf.result = JSON.stringify(buildValue(wf, wf.resultRecipe));
  }
  wf.settledAt = now;
  for (const node of wf.nodes.values()) if (node.hideResult) delete node.result;
  out.settled = wf.state;
}
