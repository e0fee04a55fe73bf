/**
 * The sweep of one workflow (DESIGN inv 4, 6): running nodes whose lease lapsed go back to their queue (a
 * redelivery, counted apart from retries) or, past `maxRedeliveries`, fail with WorkerLostError; ready nodes
 * left unclaimed past a bound are listed to be published again (duplicates are harmless: claims fence them).
 */
import { toErrorInfo, WorkerLostError } from '../../core/errors.js';
import type { SweepResult } from '../../stores/store.js';
import { failHard, settleIfDone } from './advance.js';
import { move, readyMessage, type StepOutput, type WorkflowRecord } from './record.js';

/** Sweeps one workflow at store time `now`. */
export function sweepRecord(wf: WorkflowRecord, now: number, republishAfterMs: number): Omit<SweepResult, 'settled'> & { settled?: SweepResult['settled'][number]['state'] } {
  const out: StepOutput = { ready: [] };
  let redelivered = 0;
  let lost = 0;
  if (wf.state !== 'running') return { ready: [], redelivered, lost };
  for (const id of [...wf.active]) {
    const node = wf.nodes.get(id)!;
    if (node.state === 'running') {
      if (node.leaseUntil === undefined || node.leaseUntil > now) continue;
      if (node.redeliveries >= node.spec.dispatch.maxRedeliveries) {
        failHard(wf, node, 'LOSE', toErrorInfo(new WorkerLostError(node.redeliveries)), now, out);
        // The lost worker's claim is gone: its late commit is stale, never `already`.
        delete node.token;
        lost++;
        continue;
      }
      move(wf, node, 'REDELIVER');
      node.redeliveries++;
      delete node.token;
      delete node.leaseUntil;
      node.queuedAt = now;
      node.notBefore = now;
      out.ready.push(readyMessage(wf, node, 0));
      redelivered++;
      continue;
    }
    const since = Math.max(node.queuedAt ?? 0, node.notBefore ?? 0);
    if (since + republishAfterMs > now) continue;
    node.queuedAt = now;
    out.ready.push(readyMessage(wf, node, 0));
  }
  settleIfDone(wf, now, out);
  return { ready: out.ready, redelivered, lost, ...(out.settled ? { settled: out.settled } : {}) };
}
