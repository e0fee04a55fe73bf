/**
 * Waiting for workflows to settle: one store subscription per app fans settle events out to waiters
 * (DESIGN inv 7), with a slow poll as the fallback for a missed notification (a reconnect, a restart).
 *
 * A waiter is armed BEFORE the caller reads the workflow's state and waited on after: a settle that lands
 * between the read and the wait is still heard (no lost wakeup, no wait for the poll interval).
 *
 * A settle notification may carry a succeeded workflow's result text (`StoreEvent.result`); {@link eventOutcome}
 * turns it into the outcome a read would give, so the waiter needs no read-back.
 *
 * Workflows this app starts while its subscription is live are *expected* ({@link SettleWatch.expect}): their
 * settle notification cannot come before the subscription, so it is kept when heard, and the first wait of
 * their handle needs no read of the store before it waits ({@link SettleWatch.heard}). Expectations are bounded
 * ({@link MAX_EXPECTED}, oldest dropped: such a handle reads the store, as any other does).
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

/** Most workflows expected at once (started here, their handle not yet waited on). */
export const MAX_EXPECTED = 1_000;
/** A kept notification of an expected workflow drops a result text longer than this (a waiter reads it back). */
const KEPT_RESULT_CHARS = 4_096;

/** What is known of an expected workflow: `pending` (not settled when last heard of), or its notification. */
export type Expected = 'pending' | SettledEvent;

/** Fans settle notifications out to waiters. */
export class SettleWatch {
  private readonly waiters = new Map<string, Set<(event?: SettledEvent) => void>>();
  private subscribed: Promise<() => void> | undefined;
  /** True once the subscription is in place (and until close). */
  private live = false;
  /** Expected workflows, oldest first. */
  private readonly expected = new Map<string, Expected>();

  constructor(private readonly store: Store, private readonly pollMs: number) {}

  /**
   * Marks a workflow this app is about to create (call it before the create is sent) as expected, when the
   * subscription is live: its settle notification is then kept for its handle's first wait.
   */
  expect(workflowId: string): void {
    if (!this.live) return;
    this.expected.delete(workflowId);
    this.expected.set(workflowId, 'pending');
    if (this.expected.size > MAX_EXPECTED) this.expected.delete(this.expected.keys().next().value as string);
  }

  /**
   * Takes what is known of an expected workflow (once): `pending` (no notification yet: wait without reading),
   * its notification, or `undefined` when it is not expected (read the store first).
   */
  heard(workflowId: string): Expected | undefined {
    const known = this.expected.get(workflowId);
    if (known !== undefined) this.expected.delete(workflowId);
    return known;
  }

  /** Registers interest in the workflow's next settle notification; read its state, then `wait()`. */
  async arm(workflowId: string): Promise<Wakeup> {
    this.subscribed ??= this.store.subscribe((event) => {
      if (event.type !== 'settled') return;
      if (this.expected.has(event.workflowId)) this.expected.set(event.workflowId, kept(event));
      for (const notify of [...(this.waiters.get(event.workflowId) ?? [])]) notify(event);
    }, ['settled']);
    await this.subscribed;
    this.live = this.subscribed !== undefined;
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
    this.live = false;
    this.expected.clear();
    for (const set of this.waiters.values()) for (const notify of [...set]) notify();
    const unsubscribe = await this.subscribed;
    unsubscribe?.();
    this.subscribed = undefined;
  }
}

/** A notification as kept for an expected workflow: a long result text is left to be read back. */
function kept(event: SettledEvent): SettledEvent {
  if (event.result === undefined || event.result.length <= KEPT_RESULT_CHARS) return event;
  return { type: event.type, workflowId: event.workflowId, state: event.state };
}
