/**
 * The steps a worker takes on one attempt: claim, renew, the four commits (complete, fail, retry, replace)
 * and release (a stopping worker hands the node back). Each checks the state it expects and the claim token
 * (DESIGN inv 2); a commit already applied with the same token answers `already` (RELIABILITY §1 rules), a
 * commit under a lost claim `stale`.
 */
import type { ErrorInfo } from '../../core/errors.js';
import type { JsonValue } from '../../core/json.js';
import type { ClaimRequest, ClaimResult, CommitRequest, CommitResult, CompleteRequest, ContinueRequest, ReadyNode, StoredGraph } from '../../stores/store.js';
import type { NodeState } from '../machines.js';
import { buildValue, failHard, markReady, settleIfDone, succeed } from './advance.js';
import { addNode, move, readyMessage, type NodeRecord, type StepOutput, type WorkflowRecord } from './record.js';
import { handBack } from './sweep.js';

/** Claims a queued (or retrying, once due) node for the message's attempt. */
export function claim(wf: WorkflowRecord | undefined, req: ClaimRequest, now: number): ClaimResult {
  const node = wf?.nodes.get(req.nodeId);
  if (!wf || !node) return { status: 'orphan' };
  if (node.spec.task !== req.task) return { status: 'forged' };
  if (node.state === 'running' && node.token === req.token && node.attempt === req.attempt) {
    return { status: 'claimed', node: claimedView(wf, node), already: true };
  }
  // A claim re-sent under the token its node was handed back from (the reply was lost, the lease lapsed).
  if (node.handedBackToken === req.token) return { status: 'stale' };
  if (wf.state !== 'running' || node.attempt !== req.attempt || (node.state !== 'queued' && node.state !== 'retrying')) {
    return { status: 'stale' };
  }
  if (node.notBefore !== undefined && now < node.notBefore) return { status: 'early', delayMs: node.notBefore - now };
  takeClaim(wf, node, req.token, req.leaseMs, now);
  return { status: 'claimed', node: claimedView(wf, node), already: false };
}

/** queued -> running under `token` (a claim, or a completion's continuation). */
function takeClaim(wf: WorkflowRecord, node: NodeRecord, token: string, leaseMs: number, now: number): void {
  node.token = token;
  move(wf, node, 'CLAIM');
  delete node.republished; // a message got through: the next time it is ready, republishing starts over
  delete node.republishSoonerMs;
  node.leaseUntil = now + leaseMs;
  node.starts++;
  node.startedAt = now;
}

/** Whether a completing worker takes this ready node itself ({@link ContinueRequest}). */
export function continuesWith(message: ReadyNode, queues: ContinueRequest['queues']): boolean {
  return message.delayMs === 0 && (queues === '*' || queues.includes(message.queue));
}

function claimedView(wf: WorkflowRecord, node: NodeRecord): Extract<ClaimResult, { status: 'claimed' }>['node'] {
  const args: JsonValue[] = node.spec.input ? [buildValue(wf, node.spec.input), ...node.spec.args] : [...node.spec.args];
  return {
    task: node.spec.task, args: structuredClone(args), options: { ...node.spec.options }, attempt: node.attempt,
    retries: node.retries, redeliveries: node.redeliveries, kind: node.kind, errbacks: [...node.spec.errbacks],
    errbackCount: wf.errbacks.length,
  };
}

/** Extends the lease of a claim still held. */
export function renew(wf: WorkflowRecord | undefined, req: CommitRequest & { leaseMs: number }, now: number): 'ok' | 'lost' | 'canceled' {
  const node = wf?.nodes.get(req.nodeId);
  if (!node || node.token !== req.token) return 'lost';
  if (node.state === 'canceled') return 'canceled';
  if (node.state !== 'running') return 'lost';
  node.leaseUntil = now + req.leaseMs;
  return 'ok';
}

/** Resolves a commit's guard: the node to apply it to, or the answer when it must not be applied. */
function guard(wf: WorkflowRecord | undefined, req: CommitRequest, target: NodeState): NodeRecord | CommitResult {
  const node = wf?.nodes.get(req.nodeId);
  if (!wf || !node) return { status: 'orphan', ready: [] };
  if (node.token !== req.token) return { status: 'stale', ready: [] };
  if (node.state === 'running') return node;
  // A replace under this token is applied once the node has a replacement, even if it has since resolved.
  const applied = node.state === target || (target === 'waiting' && node.replacement !== undefined);
  return { status: applied ? 'already' : 'stale', ready: [] };
}

function finish(wf: WorkflowRecord, now: number, out: StepOutput): CommitResult {
  settleIfDone(wf, now, out);
  return { status: 'ok', ready: out.ready, ...(out.settled ? { settled: out.settled } : {}) };
}

/**
 * The attempt succeeded. With `next`, the first node this made ready that the completing worker would take
 * ({@link continuesWith}) is claimed for it in the same step and returned as `next` instead of in `ready`; a
 * re-sent completion (`already`) returns that node again while it still runs under `next.token`.
 */
export function complete(wf: WorkflowRecord | undefined, req: CompleteRequest, now: number): CommitResult {
  const node = guard(wf, req, 'succeeded');
  if (!('spec' in node)) return node.status === 'already' && req.next ? withContinued(wf!, wf!.nodes.get(req.nodeId)!, node, req.next) : node;
  const out: StepOutput = { ready: [] };
  if (req.ignoreResult) node.hideResult = true;
  succeed(wf!, node, 'SUCCEED', req.result, now, out);
  const result = finish(wf!, now, out);
  if (!req.next) return result;
  const at = result.ready.findIndex((message) => continuesWith(message, req.next!.queues));
  if (at < 0) return result;
  const [message] = result.ready.splice(at, 1) as [ReadyNode];
  const next = wf!.nodes.get(message.nodeId)!;
  takeClaim(wf!, next, req.next.token, req.next.leaseMs, now);
  return { ...result, next: { message, node: claimedView(wf!, next) } };
}

/** An `already` answer with the dependent a first run of the completion claimed, if it still runs under the token. */
function withContinued(wf: WorkflowRecord, node: NodeRecord, result: CommitResult, next: ContinueRequest): CommitResult {
  for (const id of node.dependents) {
    const dep = wf.nodes.get(id);
    if (dep?.state !== 'running' || dep.token !== next.token) continue;
    return { ...result, next: { message: readyMessage(wf, dep, 0), node: claimedView(wf, dep) } };
  }
  return result;
}

/** The attempt failed for good. */
export function fail(wf: WorkflowRecord | undefined, req: CommitRequest & { error: ErrorInfo }, now: number): CommitResult {
  const node = guard(wf, req, 'failed');
  if (!('spec' in node)) return node;
  const out: StepOutput = { ready: [] };
  failHard(wf!, node, 'FAIL', req.error, now, out);
  return finish(wf!, now, out);
}

/** The attempt failed and runs again after `delayMs` as a new attempt. */
export function retry(wf: WorkflowRecord | undefined, req: CommitRequest & { error: ErrorInfo; delayMs: number }, now: number): CommitResult {
  const node = guard(wf, req, 'retrying');
  if (!('spec' in node)) return node;
  move(wf!, node, 'RETRY');
  node.error = req.error;
  node.attempt++;
  node.retries++;
  node.queuedAt = now;
  node.notBefore = now + req.delayMs;
  return { status: 'ok', ready: [readyMessage(wf!, node, req.delayMs)] };
}

/**
 * A worker that stops hands back a node it claimed and will not finish: what the sweep does once the node's
 * lease lapses, done now (handBack: a counted redelivery, or LOSE past maxRedeliveries), so the node runs
 * elsewhere without waiting out the lease. `ready` holds the node's new message (or the errbacks a LOSE fired).
 * Under a claim no longer held (or a re-sent release: the token is gone) it answers `stale`.
 */
export function release(wf: WorkflowRecord | undefined, req: CommitRequest, now: number): CommitResult {
  // handBack drops the token, so no queued node holds this one: the guard answers `stale` to a re-sent release.
  const node = guard(wf, req, 'queued');
  if (!('spec' in node)) return node;
  const out: StepOutput = { ready: [] };
  handBack(wf!, node, now, out);
  return finish(wf!, now, out);
}

/** The task replaced itself with a compiled fragment: the node waits for the fragment and takes its result. */
export function replace(wf: WorkflowRecord | undefined, req: CommitRequest & { graph: StoredGraph }, now: number): CommitResult {
  const node = guard(wf, req, 'waiting');
  if (!('spec' in node)) return node;
  const w = wf!;
  const out: StepOutput = { ready: [] };
  for (const e of req.graph.errbacks) {
    w.errbacks.push(e);
    w.errbackFired.push(false);
    w.errbackRuns.push(0);
  }
  const added: NodeRecord[] = [];
  for (const spec of req.graph.nodes) {
    const n = addNode(w, spec, 'task');
    n.replacing = node.spec.id;
    added.push(n);
  }
  move(w, node, 'REPLACE');
  node.replacement = { result: req.graph.result, done: [...req.graph.done] };
  node.remaining = req.graph.done.length;
  for (const id of req.graph.done) w.nodes.get(id)!.dependents.push(node.spec.id);
  for (const n of added) if (n.remaining === 0) markReady(w, n, now, out);
  if (node.remaining === 0) succeed(w, node, 'RESOLVE', JSON.stringify(buildValue(w, req.graph.result)), now, out);
  return finish(w, now, out);
}
