/**
 * Waiting for workflows to settle: one store subscription per app fans settle events out to waiters
 * (DESIGN inv 7), with a slow poll as the fallback for a missed notification (a reconnect, a restart).
 *
 * A waiter is armed BEFORE the caller reads the workflow's state and waited on after: a settle that lands
 * between the read and the wait is still heard (no lost wakeup, no wait for the poll interval).
 */
import type { Store } from '../stores/store.js';

/** Interest in one workflow's next settle notification, registered before its state is read. */
export interface Wakeup {
  /**
   * Resolves on the notification (also one that came since `arm()`), after the poll interval, or when
   * `signal` aborts: the caller then reads the store again. Never rejects.
   */
  wait(signal?: AbortSignal): Promise<void>;
  /** Drops the interest (safe to call twice, and after `wait`). */
  cancel(): void;
}

/** Fans settle notifications out to waiters. */
export class SettleWatch {
  private readonly waiters = new Map<string, Set<() => void>>();
  private subscribed: Promise<() => void> | undefined;

  constructor(private readonly store: Store, private readonly pollMs: number) {}

  /** Registers interest in the workflow's next settle notification; read its state, then `wait()`. */
  async arm(workflowId: string): Promise<Wakeup> {
    this.subscribed ??= this.store.subscribe((event) => {
      if (event.type !== 'settled') return;
      for (const notify of [...(this.waiters.get(event.workflowId) ?? [])]) notify();
    });
    await this.subscribed;
    let notified = false;
    let wake: (() => void) | undefined;
    let set = this.waiters.get(workflowId);
    if (!set) this.waiters.set(workflowId, (set = new Set()));
    const waiters = set;
    const notify = (): void => {
      notified = true;
      wake?.();
    };
    waiters.add(notify);
    const cancel = (): void => {
      waiters.delete(notify);
      if (waiters.size === 0 && this.waiters.get(workflowId) === waiters) this.waiters.delete(workflowId);
    };
    const wait = (signal?: AbortSignal): Promise<void> => new Promise<void>((resolve) => {
      if (notified || signal?.aborted) {
        cancel();
        resolve();
        return;
      }
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        wake = undefined;
        cancel();
        resolve();
      };
      const timer = setTimeout(done, this.pollMs);
      signal?.addEventListener('abort', done, { once: true });
      wake = done;
    });
    return { wait, cancel };
  }

  /** Drops the subscription and wakes every waiter. */
  async close(): Promise<void> {
    for (const set of this.waiters.values()) for (const notify of [...set]) notify();
    const unsubscribe = await this.subscribed;
    unsubscribe?.();
    this.subscribed = undefined;
  }
}
