/**
 * Waiting for workflows to settle: one store subscription per app fans settle events out to waiters
 * (DESIGN inv 7), with a slow poll as the fallback for a missed notification (a reconnect, a restart).
 *
 * A waiter is armed BEFORE the caller reads the workflow's state and waited on after: a settle that lands
 * between the read and the wait is still heard (no lost wakeup, no wait for the poll interval).
 *
 * A settle notification may carry a succeeded workflow's result text (`StoreEvent.result`); {@link eventOutcome}
 * turns it into the outcome a read would give, so the waiter needs no read-back.
 */
import { parseJson } from '../core/json.js';
import type { Store, StoreEvent, WorkflowOutcome } from '../stores/store.js';

/** A settle notification. */
export type SettledEvent = Extract<StoreEvent, { type: 'settled' }>;

/** Interest in one workflow's next settle notification, registered before its state is read. */
export interface Wakeup {
  /**
   * Resolves with the notification (also one that came since `arm()`), or with `undefined` after the poll
   * interval or when `signal` aborts: the caller then reads the store again. Never rejects.
   */
  wait(signal?: AbortSignal): Promise<SettledEvent | undefined>;
  /** Drops the interest (safe to call twice, and after `wait`). */
  cancel(): void;
}

/**
 * The outcome a notification tells in full: a succeeded workflow whose result text came with it, parsed with
 * the checks of a read from the store. `undefined` when the store must be read (failures, no result text, a
 * result that does not parse).
 */
export function eventOutcome(event: SettledEvent | undefined): WorkflowOutcome | undefined {
  if (event?.state !== 'succeeded' || typeof event.result !== 'string') return undefined;
  try {
    return { state: 'succeeded', result: parseJson(event.result), failures: [] };
  } catch {
    return undefined;
  }
}

/** Fans settle notifications out to waiters. */
export class SettleWatch {
  private readonly waiters = new Map<string, Set<(event?: SettledEvent) => void>>();
  private subscribed: Promise<() => void> | undefined;

  constructor(private readonly store: Store, private readonly pollMs: number) {}

  /** Registers interest in the workflow's next settle notification; read its state, then `wait()`. */
  async arm(workflowId: string): Promise<Wakeup> {
    this.subscribed ??= this.store.subscribe((event) => {
      if (event.type !== 'settled') return;
      for (const notify of [...(this.waiters.get(event.workflowId) ?? [])]) notify(event);
    });
    await this.subscribed;
    let notified = false;
    let heard: SettledEvent | undefined;
    let wake: ((event?: SettledEvent) => void) | undefined;
    let set = this.waiters.get(workflowId);
    if (!set) this.waiters.set(workflowId, (set = new Set()));
    const waiters = set;
    const notify = (event?: SettledEvent): void => {
      notified = true;
      heard ??= event;
      wake?.(heard);
    };
    waiters.add(notify);
    const cancel = (): void => {
      waiters.delete(notify);
      if (waiters.size === 0 && this.waiters.get(workflowId) === waiters) this.waiters.delete(workflowId);
    };
    const wait = (signal?: AbortSignal): Promise<SettledEvent | undefined> => new Promise((resolve) => {
      if (notified || signal?.aborted) {
        cancel();
        resolve(heard);
        return;
      }
      const done = (event?: SettledEvent): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', aborted);
        wake = undefined;
        cancel();
        resolve(event);
      };
      const aborted = (): void => done();
      const timer = setTimeout(aborted, this.pollMs);
      signal?.addEventListener('abort', aborted, { once: true });
      wake = done;
    });
    return { wait, cancel };
  }

  /** Drops the subscription and wakes every waiter (with nothing heard: they read the store). */
  async close(): Promise<void> {
    for (const set of this.waiters.values()) for (const notify of [...set]) notify();
    const unsubscribe = await this.subscribed;
    unsubscribe?.();
    this.subscribed = undefined;
  }
}
