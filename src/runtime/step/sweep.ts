/**
 * The sweep of one workflow (DESIGN inv 4, 6): running nodes whose lease lapsed go back to their queue (a
 * redelivery, counted apart from retries) or, past `maxRedeliveries`, fail with WorkerLostError; ready nodes
 * left unclaimed past a bound are listed to be published again (duplicates are harmless: claims fence them).
 *
 * Republishing backs off: a node left unclaimed is republished after `republishAfterMs`, then after twice that,
 * four times, up to {@link REPUBLISH_BACKOFF_LIMIT} doublings, until a claim resets it. Under a backlog that
 * takes longer than `republishAfterMs` to drain, its messages are still queued and every republish adds a
 * duplicate the workers must claim and drop; the backoff keeps that to a few per node (about log2 of the
 * backlog's age over `republishAfterMs`), while a message the broker really lost is still sent again.
 */
import { toErrorInfo, WorkerLostError } from '../../core/errors.js';
import type { SweepResult } from '../../stores/store.js';
import { failHard, settleIfDone } from './advance.js';
import { move, readyMessage, type NodeRecord, type StepOutput, type WorkflowRecord } from './record.js';

/** Doublings of the republish wait at most: with the default 60 s, a node is republished at least every 16 min. */
export const REPUBLISH_BACKOFF_LIMIT = 4;

/** How long a ready node waits unclaimed before its `n+1`-th republish (n = republishes since its last claim). */
export function republishWait(republishAfterMs: number, republished: number): number {
  return republishAfterMs * 2 ** Math.min(republished, REPUBLISH_BACKOFF_LIMIT);
}

/**
 * A running node whose worker is gone (its lease lapsed) or let it go (a worker's shutdown, `release`): back to
 * its queue for the same attempt, a counted redelivery, its message listed in `out`; past `maxRedeliveries` it
 * fails with WorkerLostError instead (LOSE, spread as a failure). The claim's token is dropped either way, so the
 * old worker's late commit is stale, never `already`; a requeued node remembers it, so that a claim re-sent under
 * it is stale too (the node runs once under a fresh claim of its new message).
 */
export function handBack(wf: WorkflowRecord, node: NodeRecord, now: number, out: StepOutput): 'redelivered' | 'lost' {
  if (node.redeliveries >= node.spec.dispatch.maxRedeliveries) {
    failHard(wf, node, 'LOSE', toErrorInfo(new WorkerLostError(node.redeliveries)), now, out);
    delete node.token;
    return 'lost';
  }
  move(wf, node, 'REDELIVER');
  node.redeliveries++;
  if (node.token !== undefined) node.handedBackToken = node.token;
  delete node.token;
  delete node.leaseUntil;
  node.queuedAt = now;
  node.notBefore = now;
  out.ready.push(readyMessage(wf, node, 0));
  return 'redelivered';
}

/**
 * Sweeps one workflow at store time `now`. A node it makes ready (sent back from a lapsed lease, or an errback a
 * lost node fired) is republished, if still unclaimed, after `redeliveredAfterMs`
 * (SweepOptions.redeliveredRepublishAfterMs), then 2, 4 ... times that up to `republishAfterMs`.
 */
export function sweepRecord(
  wf: WorkflowRecord, now: number, republishAfterMs: number, redeliveredAfterMs = republishAfterMs,
): Omit<SweepResult, 'settled'> & { settled?: SweepResult['settled'][number]['state'] } {
  const out: StepOutput = { ready: [] };
  let redelivered = 0;
  let lost = 0;
  const lostNodes: SweepResult['ready'] = [];
  if (wf.state !== 'running') return { ready: [], redelivered, lost };
  for (const id of [...wf.active]) {
    const node = wf.nodes.get(id)!;
    if (node.state === 'running') {
      if (node.leaseUntil === undefined || node.leaseUntil > now) continue;
      const from = out.ready.length;
      if (handBack(wf, node, now, out) === 'lost') {
        lost++;
        lostNodes.push(readyMessage(wf, node, 0));
      } else {
        redelivered++;
      }
      // What this made ready (the node sent back, or an errback its loss fired) is published by the sweeper after
      // the sweep, and only then: republished sooner in case the sweeper dies first.
      if (redeliveredAfterMs < republishAfterMs) for (const message of out.ready.slice(from)) wf.nodes.get(message.nodeId)!.republishSoonerMs = redeliveredAfterMs;
      continue;
    }
    const since = Math.max(node.queuedAt ?? 0, node.notBefore ?? 0);
    const republished = node.republished ?? 0;
    const sooner = node.republishSoonerMs;
    if (since + (sooner !== undefined ? sooner * 2 ** republished : republishWait(republishAfterMs, republished)) > now) continue;
    node.queuedAt = now;
    node.republished = republished + 1;
    // Sent back from a lapsed lease: 2, 4 ... x `sooner` until that reaches republishAfterMs, then as any node.
    if (sooner !== undefined && sooner * 2 ** node.republished >= republishAfterMs) {
      delete node.republishSoonerMs;
      node.republished = 0;
    }
    out.ready.push(readyMessage(wf, node, 0));
  }
  settleIfDone(wf, now, out);
  return { ready: out.ready, redelivered, lost, ...(lostNodes.length > 0 ? { lostNodes } : {}), ...(out.settled ? { settled: out.settled } : {}) };
}
