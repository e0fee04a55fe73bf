/**
 * A handle on one workflow: its id, its result (waited for by notification with a poll fallback) and its
 * snapshot. Handles are cheap values; any process can make one with `app.workflow(id)`.
 */
import {
  ResultTimeoutError, StoreLostError, WorkflowCanceledError, WorkflowFailedError, WorkflowStateError,
} from '../core/errors.js';
import type { WorkflowSnapshot } from '../core/snapshot.js';
import type { WorkflowOutcome } from '../stores/store.js';
import type { Kernel } from './kernel.js';
import { eventOutcome, type SettleWatch } from './settle-watch.js';

/** What the handle needs from its app. */
export interface HandleHost {
  kernel: Kernel;
  watch: SettleWatch;
  connect(): Promise<void>;
  /** The store epoch seen at connect (a change means the store was wiped). */
  epoch(): string | null;
}

/** A workflow, by id. `R` is the canvas result type. */
export class WorkflowHandle<R = unknown> {
  constructor(readonly id: string, private readonly host: HandleHost) {}

  /**
   * The canvas result once the workflow settles. Rejects with WorkflowFailedError (with every failure),
   * WorkflowCanceledError, ResultTimeoutError after `timeoutMs`, or StoreLostError if the store lost it.
   * A settle notification that carries the result ends the wait without reading the store again.
   */
  async result(options: { timeoutMs?: number } = {}): Promise<R> {
    await this.host.connect();
    const deadline = options.timeoutMs === undefined ? undefined : Date.now() + options.timeoutMs;
    // An AbortController costs more than a whole trivial task: only a wait with a timeout makes one.
    const timeout = options.timeoutMs === undefined ? undefined : new AbortController();
    const timer = timeout === undefined ? undefined : setTimeout(() => timeout.abort(), options.timeoutMs);
    try {
      for (let first = true; ; first = false) {
        const wakeup = await this.host.watch.arm(this.id);
        try {
          // A workflow this app started: its notification is kept once heard, so the first wait reads nothing.
          const known = first ? this.host.watch.heard(this.id) : undefined;
          if (known !== undefined) {
            const told = eventOutcome(known === 'pending' ? await wakeup.wait(timeout?.signal) : known);
            if (told) return told.result as R;
            continue;
          }
          const outcome = await this.readOutcome();
          if (outcome.state === 'succeeded') return outcome.result as R;
          if (outcome.state === 'failed') throw new WorkflowFailedError(this.id, outcome.failures);
          if (outcome.state === 'canceled') throw new WorkflowCanceledError(this.id);
          if (deadline !== undefined && Date.now() >= deadline) throw new ResultTimeoutError(this.id, options.timeoutMs!);
          const told = eventOutcome(await wakeup.wait(timeout?.signal));
          if (told) return told.result as R;
        } finally {
          wakeup.cancel();
        }
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Resolves once the workflow has settled, whatever its state (no rejection for failure). */
  async settled(): Promise<WorkflowOutcome> {
    await this.host.connect();
    for (;;) {
      const wakeup = await this.host.watch.arm(this.id);
      try {
        const outcome = await this.readOutcome();
        if (outcome.state !== 'running') return outcome;
        const told = eventOutcome(await wakeup.wait());
        if (told) return told;
      } finally {
        wakeup.cancel();
      }
    }
  }

  /** The workflow and every node, now. */
  async status(): Promise<WorkflowSnapshot> {
    await this.host.connect();
    const snapshot = await this.host.kernel.store.snapshot(this.id);
    if (!snapshot) throw await this.missing();
    return snapshot;
  }

  private async readOutcome(): Promise<WorkflowOutcome> {
    const outcome = await this.host.kernel.store.outcome(this.id);
    if (!outcome) throw await this.missing();
    return outcome;
  }

  private async missing(): Promise<Error> {
    const known = this.host.epoch();
    const now = await this.host.kernel.store.epoch();
    if (known !== null && now !== known) return new StoreLostError(`the store lost workflow ${this.id}: it was wiped or restarted without persistence`);
    return new WorkflowStateError(this.id, `no workflow with id ${this.id}`);
  }
}
