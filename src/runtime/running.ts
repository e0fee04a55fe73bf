/**
 * The attempts a worker is running, by workflow id, so a cancel notification or a shutdown can stop them at
 * once. Each workflow's attempts form a list through their {@link Stopper}s: adding and removing one costs no
 * allocation (a Set per workflow cost one per task when every task is its own workflow).
 */
import type { Stopper } from './run-handler.js';

/** Running attempts by workflow id. */
export class RunningAttempts {
  private readonly heads = new Map<string, Stopper>();

  /** Number of workflows with an attempt running (tests). */
  get workflows(): number {
    return this.heads.size;
  }

  /** Registers a running attempt of a workflow. */
  add(workflowId: string, stopper: Stopper): void {
    const head = this.heads.get(workflowId);
    if (head) {
      stopper.nextRunning = head;
      head.previousRunning = stopper;
    }
    this.heads.set(workflowId, stopper);
  }

  /** Forgets an attempt registered with {@link add}. */
  delete(workflowId: string, stopper: Stopper): void {
    const { previousRunning: previous, nextRunning: next } = stopper;
    if (previous) previous.nextRunning = next;
    else if (this.heads.get(workflowId) === stopper) {
      if (next) this.heads.set(workflowId, next);
      else this.heads.delete(workflowId);
    }
    if (next) next.previousRunning = previous;
    stopper.previousRunning = undefined;
    stopper.nextRunning = undefined;
  }

  /** Stops every running attempt of a workflow, each with the reason `reason()` makes. */
  stopWorkflow(workflowId: string, reason: () => unknown): void {
    for (const stopper of this.list(workflowId)) stopper.stop(reason());
  }

  /** Stops every running attempt. */
  stopAll(reason: unknown): void {
    for (const workflowId of [...this.heads.keys()]) for (const stopper of this.list(workflowId)) stopper.stop(reason);
  }

  /** A workflow's attempts, listed before any is stopped (a stop may change the list). */
  private list(workflowId: string): Stopper[] {
    const out: Stopper[] = [];
    for (let s = this.heads.get(workflowId); s; s = s.nextRunning) out.push(s);
    return out;
  }
}
