/**
 * Runs the store's sweep on a timer and publishes what it returns: nodes whose lease lapsed (their worker
 * died) and ready nodes left unclaimed past a bound (DESIGN inv 4, 6). Every worker runs one; sweeps are
 * idempotent, so two at once cost duplicate messages at most, which claims turn into ack-and-drop.
 */
import { publishReady, type Kernel } from './kernel.js';

/** Sweep timing. */
export interface SweepTiming {
  intervalMs: number;
  republishAfterMs: number;
}

/** A periodic sweep. */
export class Sweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /** The sweep at start, until it begins. */
  private first: NodeJS.Immediate | undefined;

  constructor(private readonly kernel: Kernel, private readonly timing: SweepTiming) {}

  /**
   * Starts sweeping: once right away (on the next turn), then every `intervalMs`. The first sweep at start means
   * a worker that replaces a crashed one (a restart loop, a redeploy) hands back lapsed leases and lost messages
   * at once instead of after a whole interval, and that a worker living shorter than the interval still sweeps.
   */
  start(): void {
    if (this.timer) return;
    const sweep = (): void => {
      this.running ??= this.sweepOnce().finally(() => (this.running = undefined));
    };
    this.timer = setInterval(sweep, this.timing.intervalMs);
    this.timer.unref();
    this.first = setImmediate(() => {
      this.first = undefined;
      sweep();
    });
  }

  /** One sweep now; resolves when its messages are published. */
  async sweepOnce(): Promise<void> {
    try {
      const result = await this.kernel.store.sweep({ republishAfterMs: this.timing.republishAfterMs, limit: 10_000, everyMs: this.timing.intervalMs });
      if (result.redelivered > 0 || result.lost > 0) {
        this.kernel.logger.warn({ redelivered: result.redelivered, lost: result.lost }, 'sweep found lapsed leases');
      }
      this.kernel.counters.add('sweep.redelivered', result.redelivered);
      this.kernel.counters.add('sweep.lost', result.lost);
      this.kernel.counters.add('sweep.republished', result.ready.length - result.redelivered);
      await publishReady(this.kernel, result.ready);
    } catch (error) {
      this.kernel.logger.warn({ err: error }, 'sweep failed; will try again');
    }
  }

  /** Stops the timer and waits for a sweep under way. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.first) clearImmediate(this.first);
    this.first = undefined;
    await this.running;
  }
}
