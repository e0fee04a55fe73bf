/**
 * A commit probe: wraps the app's store so a test hears of each accepted transition of a node (claim, renew,
 * complete, fail, retry, replace) as an event, instead of polling or sleeping. It can also make lease renewals
 * fail, so a worker looks dead to the store without killing a process. It also records what the worker asked the
 * store for (e.g. the `delayMs` of a retry), which is how tests check the retry schedule without a clock.
 *
 * The wrapped store is the app's own, so the probe works for any store the app is given (memory, redis).
 */
import type { App } from '../../src/index.js';
import type { Store } from '../../src/stores/store.js';

/** One transition the store accepted. */
export interface ProbeEvent {
  op: 'claim' | 'complete' | 'fail' | 'retry' | 'replace' | 'renew';
  workflowId: string;
  nodeId: string;
  /** The retry delay the worker chose (op `retry`). */
  delayMs?: number;
}

type Waiter = { match: (e: ProbeEvent) => boolean; resolve: (e: ProbeEvent) => void };

/** Records accepted transitions and lets tests await them. */
export class CommitProbe {
  readonly events: ProbeEvent[] = [];
  /** While true, lease renewals fail as if the store did not answer (a worker that looks dead to the store). */
  failRenewals = false;
  private readonly waiters = new Set<Waiter>();
  private installed: Promise<void> | undefined;

  constructor(private readonly app: App) {}

  /** Wraps the store (once). Called by the test environment before the first start. */
  install(): Promise<void> {
    this.installed ??= this.app.kernel().then(({ store }) => this.wrap(store));
    return this.installed;
  }

  /** Resolves with the first event (past or future) for `nodeId` of kind `op` (any commit when omitted). */
  when(nodeId: string, op?: ProbeEvent['op'], workflowId?: string): Promise<ProbeEvent> {
    return this.nth(1, nodeId, op, workflowId);
  }

  /** Resolves with the `n`-th such event (past or future). */
  nth(n: number, nodeId: string, op?: ProbeEvent['op'], workflowId?: string): Promise<ProbeEvent> {
    const match = (e: ProbeEvent): boolean => e.nodeId === nodeId && (op === undefined ? e.op !== 'claim' && e.op !== 'renew' : e.op === op) && (workflowId === undefined || e.workflowId === workflowId);
    const past = this.events.filter(match);
    if (past.length >= n) return Promise.resolve(past[n - 1]!);
    let seen = past.length;
    return new Promise((resolve) => this.waiters.add({ match: (e) => match(e) && ++seen === n, resolve }));
  }

  /** Events of one kind, in the order the store accepted them. */
  of(op: ProbeEvent['op']): ProbeEvent[] {
    return this.events.filter((e) => e.op === op);
  }

  private record(event: ProbeEvent): void {
    this.events.push(event);
    for (const waiter of [...this.waiters]) {
      if (!waiter.match(event)) continue;
      this.waiters.delete(waiter);
      waiter.resolve(event);
    }
  }

  private wrap(store: Store): void {
    const commits = ['complete', 'fail', 'retry', 'replace'] as const;
    for (const op of commits) {
      const original = store[op].bind(store) as unknown as (request: { workflowId: string; nodeId: string; delayMs?: number }) => Promise<{ status: string }>;
      (store as unknown as Record<string, unknown>)[op] = async (request: { workflowId: string; nodeId: string; delayMs?: number }) => {
        const result = await original(request);
        if (result.status === 'ok') {
          this.record({ op, workflowId: request.workflowId, nodeId: request.nodeId, ...(op === 'retry' ? { delayMs: request.delayMs! } : {}) });
        }
        return result;
      };
    }
    const renew = store.renew.bind(store);
    store.renew = async (request) => {
      if (this.failRenewals) throw new Error('renewal suppressed by the test');
      const answer = await renew(request);
      if (answer === 'ok') this.record({ op: 'renew', workflowId: request.workflowId, nodeId: request.nodeId });
      return answer;
    };
    const claim = store.claim.bind(store);
    store.claim = async (request) => {
      const result = await claim(request);
      if (result.status === 'claimed' && !result.already) this.record({ op: 'claim', workflowId: request.workflowId, nodeId: request.nodeId });
      return result;
    };
  }
}
