/**
 * Runs the store's sweep on a timer and publishes what it returns: nodes whose lease lapsed (their worker
 * died) and ready nodes left unclaimed past a bound (DESIGN inv 4, 6). Every worker runs one; sweeps are
 * idempotent, so two at once cost duplicate messages at most, which claims turn into ack-and-drop.
 */
import type { ReadyNode } from '../stores/store.js';
import { encodeEnvelope } from './envelope.js';
import { publishReady, type Kernel } from './kernel.js';

/** Sweep timing. */
export interface SweepTiming {
  intervalMs: number;
  republishAfterMs: number;
  /**
   * A sweep still under way after this long counts as stalled (default {@link defaultStallMs}): the next tick
   * starts another beside it, and `stop()` no longer waits for it.
   */
  stallMs?: number;
}

/**
 * How long a node a sweep made ready (sent back from a lapsed lease, or an errback a lost node fired) waits
 * unclaimed before it is published again (SweepOptions.redeliveredRepublishAfterMs): two sweep intervals, at
 * least 1 s, at most `republishAfterMs`. A sweeping worker that dies between the sweep's store step and its
 * publish (a poison task took its process down meanwhile: F5) then costs the node that long, not
 * `republishAfterMs` (60 s by default); when the message did get out but waits behind a backlog, it costs a few
 * duplicate messages sooner (at 1, 2, 4 ... times that), which claims drop.
 */
export function redeliveredRepublishAfterMs(intervalMs: number, republishAfterMs: number): number {
  return Math.min(republishAfterMs, Math.max(1_000, 2 * intervalMs));
}

/** Default of {@link SweepTiming.stallMs}: four intervals, and never under 15 s (above a store's socket timeout). */
export function defaultStallMs(intervalMs: number): number {
  return Math.max(4 * intervalMs, 15_000);
}

/** A periodic sweep. */
export class Sweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /** When {@link Sweeper.running} began (Date.now()). */
  private runningSince = 0;
  private readonly stallMs: number;
  /** The sweep at start, until it begins. */
  private first: NodeJS.Immediate | undefined;

  constructor(private readonly kernel: Kernel, private readonly timing: SweepTiming) {
    this.stallMs = timing.stallMs ?? defaultStallMs(timing.intervalMs);
  }

  /**
   * Starts sweeping: once right away (on the next turn), then every `intervalMs`. The first sweep at start means
   * a worker that replaces a crashed one (a restart loop, a redeploy) hands back lapsed leases and lost messages
   * at once instead of after a whole interval, and that a worker living shorter than the interval still sweeps.
   * One sweep at a time, unless the one under way has stalled (a store call that never answers): then another
   * starts beside it, since a sweep that never ends would otherwise stop this worker's sweeping for good, and
   * with it the return of every lapsed lease it would find. Sweeps are idempotent, so two at once cost
   * duplicate messages at most.
   */
  start(): void {
    if (this.timer) return;
    const sweep = (): void => {
      const now = Date.now();
      if (this.running) {
        if (now - this.runningSince < this.stallMs) return;
        this.kernel.logger.warn({ stalledMs: now - this.runningSince }, 'sweep stalled; starting another beside it');
        this.kernel.counters.add('sweep.stalled');
      }
      const run: Promise<void> = this.sweepOnce().finally(() => {
        if (this.running === run) this.running = undefined;
      });
      this.running = run;
      this.runningSince = now;
    };
    this.timer = setInterval(sweep, this.timing.intervalMs);
    this.timer.unref();
    this.first = setImmediate(() => {
      this.first = undefined;
      sweep();
    });
  }

  /**
   * Keeps a dead-letter copy of each node the sweep failed with WorkerLostError (RELIABILITY §1.4): the message
   * its workers kept dying on, for an operator to find with the others (`braid` dead letters, Broker.deadLetters).
   * A copy the broker refuses is logged and not retried: the node's failure, with its error, is in the store.
   */
  private async deadLetterLost(lost: readonly ReadyNode[]): Promise<void> {
    const { broker, logger, counters } = this.kernel;
    await Promise.all(lost.map(async (node) => {
      const detail = `failed with WorkerLostError: its lease lapsed past maxRedeliveries (workflow ${node.workflowId}, node ${node.nodeId})`;
      try {
        await broker.deadLetter(node.queue, encodeEnvelope(node), 'worker_lost', detail);
        counters.add('dead_letter.worker_lost');
      } catch (error) {
        logger.warn({ err: error, workflowId: node.workflowId, nodeId: node.nodeId }, 'dead letter of a lost node failed');
      }
    }));
  }

  /** One sweep now; resolves when its messages are published. */
  async sweepOnce(): Promise<void> {
    try {
      const { intervalMs, republishAfterMs } = this.timing;
      const result = await this.kernel.store.sweep({
        republishAfterMs, redeliveredRepublishAfterMs: redeliveredRepublishAfterMs(intervalMs, republishAfterMs), limit: 10_000, everyMs: intervalMs,
      });
      if (result.redelivered > 0 || result.lost > 0) {
        this.kernel.logger.warn({ redelivered: result.redelivered, lost: result.lost }, 'sweep found lapsed leases');
      }
      this.kernel.counters.add('sweep.redelivered', result.redelivered);
      this.kernel.counters.add('sweep.lost', result.lost);
      this.kernel.counters.add('sweep.republished', result.ready.length - result.redelivered);
      await publishReady(this.kernel, result.ready);
      if (result.lostNodes) await this.deadLetterLost(result.lostNodes);
    } catch (error) {
      this.kernel.logger.warn({ err: error }, 'sweep failed; will try again');
    }
  }

  /** Stops the timer and waits for a sweep under way, for at most what is left of its stall bound. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.first) clearImmediate(this.first);
    this.first = undefined;
    const running = this.running;
    if (!running) return;
    let bound: NodeJS.Timeout | undefined;
    const stalled = new Promise<void>((resolve) => {
      bound = setTimeout(resolve, Math.max(0, this.runningSince + this.stallMs - Date.now()));
    });
    await Promise.race([running, stalled]);
    clearTimeout(bound);
  }
}
