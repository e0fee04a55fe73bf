/**
 * Keeps a claim alive: renews the node's lease every `leaseMs / 3` (API.md). When the store answers that the
 * claim is lost (the lease lapsed and the node went elsewhere) or the workflow was canceled, the attempt is
 * aborted through `onEnd`.
 */
import { CanceledError } from '../core/errors.js';
import type { CommitRequest } from '../stores/store.js';
import { crashPoint } from './crash-points.js';
import type { Kernel } from './kernel.js';

/** Raised through `ctx.signal` when the store says another worker now owns the node. */
export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
}

/** Renews one claim until stopped. */
export class Lease {
  private readonly timer: NodeJS.Timeout;
  private stopped = false;

  constructor(private readonly kernel: Kernel, private readonly claim: CommitRequest & { leaseMs: number }, private readonly onEnd: (reason: unknown) => void) {
    this.timer = setInterval(() => void this.renew(), Math.max(1, Math.floor(claim.leaseMs / 3)));
    this.timer.unref();
  }

  /** Stops renewing. */
  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  private async renew(): Promise<void> {
    crashPoint('before-renew');
    let answer: 'ok' | 'lost' | 'canceled';
    try {
      answer = await this.kernel.store.renew(this.claim);
    } catch (error) {
      // A store that does not answer now may answer at the next renewal; the lease has two more chances.
      this.kernel.logger.warn({ err: error, nodeId: this.claim.nodeId }, 'lease renewal failed');
      return;
    }
    if (this.stopped || answer === 'ok') return;
    this.stop();
    this.kernel.counters.add(`lease.${answer}`);
    this.onEnd(answer === 'canceled' ? new CanceledError(this.claim.workflowId) : new LeaseLostError(`lease of node ${this.claim.nodeId} lost`));
  }
}
