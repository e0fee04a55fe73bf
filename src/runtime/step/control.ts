/**
 * Operator steps: cancel and replay. Cancel ends every open node at once (running ones are fenced off: their
 * commits become stale and their renewals answer `canceled`). Replay re-runs failed, blocked and canceled
 * nodes (or the given ones) and everything downstream, keeping every result that succeeded.
 */
import type { CancelResult, ReplayResult } from '../../stores/store.js';
import { FINAL_NODE_STATES } from '../machines.js';
import { buildValue, markReady, settleIfDone, succeed } from './advance.js';
import { move, moveWorkflow, type NodeRecord, type StepOutput, type WorkflowRecord } from './record.js';

/** Cancels a running workflow: it settles `canceled` in this step. */
export function cancel(wf: WorkflowRecord | undefined, now: number): CancelResult {
  if (!wf) return { status: 'missing' };
  if (wf.state !== 'running') return { status: 'already', state: wf.state };
  for (const id of wf.order) {
    const node = wf.nodes.get(id)!;
    if (FINAL_NODE_STATES.has(node.state)) continue;
    move(wf, node, 'CANCEL');
    node.finishedAt = now;
  }
  moveWorkflow(wf, 'CANCEL');
  wf.settledAt = now;
  return { status: 'ok', state: wf.state };
}

/** The nodes a replay re-runs: the chosen ones, what they need that was dropped, and everything downstream. */
function replaySet(wf: WorkflowRecord, chosen: readonly string[]): Set<string> {
  const set = new Set<string>();
  const work = [...chosen];
  while (work.length > 0) {
    const id = work.pop()!;
    if (set.has(id)) continue;
    set.add(id);
    const node = wf.nodes.get(id)!;
    for (const d of node.dependents) work.push(d);
    // What it waits for must run again unless it succeeded and kept its result: a failed, blocked or canceled
    // dependency (else this node would wait forever), or an ignoreResult one whose result was dropped at settle.
    // A replaced node waits for its fragment, not its own dependencies.
    for (const dep of node.replacement ? node.replacement.done : node.spec.deps) {
      const d = wf.nodes.get(dep)!;
      if (d.state !== 'succeeded' || (d.hideResult && d.result === undefined)) work.push(dep);
    }
  }
  return set;
}

/** Replays a failed or canceled workflow. */
export function replay(wf: WorkflowRecord | undefined, nodeIds: readonly string[] | undefined, now: number): ReplayResult {
  if (!wf) return { status: 'missing' };
  if (wf.state === 'running' || wf.state === 'succeeded') return { status: 'refused', state: wf.state };
  if (nodeIds) {
    const unknown = nodeIds.filter((id) => !wf.nodes.has(id));
    if (unknown.length > 0) return { status: 'unknown_nodes', nodes: unknown };
  }
  const chosen = nodeIds ?? wf.order.filter((id) => {
    const n = wf.nodes.get(id)!;
    return n.kind === 'task' && (n.state === 'failed' || n.state === 'blocked' || n.state === 'canceled');
  });
  const set = replaySet(wf, chosen);
  const nodes = wf.order.filter((id) => set.has(id) && wf.nodes.get(id)!.kind === 'task');
  for (const id of nodes) {
    const node = wf.nodes.get(id)!;
    move(wf, node, node.replacement ? 'REPLAY_WAIT' : 'REPLAY');
    resetForReplay(node);
    for (const index of node.spec.errbacks) {
      if (wf.errbackFired[index]) {
        wf.errbackFired[index] = false;
        wf.errbackRuns[index] = (wf.errbackRuns[index] ?? 0) + 1;
      }
    }
  }
  moveWorkflow(wf, 'REPLAY');
  delete wf.settledAt;
  delete wf.result;
  const out: StepOutput = { ready: [] };
  for (const id of nodes) {
    const node = wf.nodes.get(id)!;
    const waitsFor = node.replacement ? node.replacement.done : node.spec.deps;
    node.remaining = waitsFor.filter((d) => wf.nodes.get(d)!.state !== 'succeeded').length;
  }
  for (const id of nodes) {
    const node = wf.nodes.get(id)!;
    if (node.remaining > 0 || (node.state !== 'pending' && node.state !== 'waiting')) continue;
    if (node.state === 'pending') markReady(wf, node, now, out);
    else succeed(wf, node, 'RESOLVE', JSON.stringify(buildValue(wf, node.replacement!.result)), now, out);
  }
  // Replaced nodes whose fragments all succeeded resolve at once; if nothing else was replayed, it settles again.
  settleIfDone(wf, now, out);
  return { status: 'ok', ready: out.ready, nodes, ...(out.settled ? { settled: out.settled } : {}) };
}

function resetForReplay(node: NodeRecord): void {
  node.attempt++;
  node.retries = 0;
  node.redeliveries = 0;
  delete node.token;
  delete node.leaseUntil;
  delete node.notBefore;
  delete node.error;
  delete node.result;
  delete node.hideResult;
  delete node.startedAt;
  delete node.finishedAt;
}
