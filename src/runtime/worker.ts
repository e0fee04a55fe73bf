/**
 * A worker: consumes its queues with at most `concurrency` nodes in flight, runs each through the
 * {@link DeliveryHandler}, sweeps, and on `close()` stops taking work, lets in-flight nodes finish for a grace
 * period, then hands the rest back to their queues.
 */
import { CanceledError, CanvasError } from '../core/errors.js';
import { MAX_DELAY_MS, validateQueueName } from '../core/options.js';
import type { Consumer, Delivery } from '../brokers/broker.js';
import { DeliveryHandler, SHUTDOWN, type Continuations } from './deliver.js';
import { RunningAttempts } from './running.js';
import type { Kernel } from './kernel.js';
import { Sweeper } from './sweeper.js';

/** What `app.worker()` takes. */
export interface WorkerOptions {
  /** Queues to consume (default `['default']`). */
  queues?: string[];
  /** Most nodes run at once (default 8). */
  concurrency?: number;
  /** Lease of a running node, renewed every leaseMs / 3 (default 30000). */
  leaseMs?: number;
  /** How often this worker sweeps for lapsed leases and lost messages (default min(5000, leaseMs / 2)). */
  sweepIntervalMs?: number;
  /** A ready node unclaimed this long is published again (default 60000). */
  republishAfterMs?: number;
  /** How long `close()` lets in-flight nodes finish before handing them back (default 30000). */
  shutdownGraceMs?: number;
}

/** Hooks the app gives a worker. */
export interface WorkerHost {
  kernel: Kernel;
  connect(): Promise<void>;
  forget(worker: Worker): void;
}

/** Consumes queues and runs nodes. Made by `app.worker()`. */
export class Worker {
  private consumer: Consumer | undefined;
  /** Deliveries being handled, and who waits for that to reach 0 (close). */
  private inflight = 0;
  private drainWaiters: Array<() => void> = [];
  /** Called when a delivery is done (one function per worker, not a closure per delivery). */
  private readonly finished = (): void => {
    this.inflight -= 1;
    if (this.inflight === 0) for (const wake of this.drainWaiters.splice(0)) wake();
  };
  private readonly byWorkflow = new RunningAttempts();
  private readonly sweeper: Sweeper;
  private readonly options: Required<WorkerOptions>;
  private unsubscribe: (() => void) | undefined;
  private state: 'new' | 'started' | 'closing' | 'closed' = 'new';

  constructor(private readonly host: WorkerHost, options: WorkerOptions = {}) {
    const leaseMs = options.leaseMs ?? 30_000;
    this.options = {
      queues: options.queues ?? ['default'],
      concurrency: options.concurrency ?? 8,
      leaseMs,
      sweepIntervalMs: options.sweepIntervalMs ?? Math.max(10, Math.min(5_000, Math.floor(leaseMs / 2))),
      republishAfterMs: options.republishAfterMs ?? 60_000,
      shutdownGraceMs: options.shutdownGraceMs ?? 30_000,
    };
    validate(this.options);
    this.sweeper = new Sweeper(host.kernel, { intervalMs: this.options.sweepIntervalMs, republishAfterMs: this.options.republishAfterMs });
  }

  /** The queues this worker consumes. */
  get queues(): readonly string[] {
    return this.options.queues;
  }

  /** Connects, declares its queues, and starts consuming and sweeping. */
  async start(): Promise<void> {
    if (this.state !== 'new') return;
    this.state = 'started';
    const { kernel } = this.host;
    const queues = this.options.queues;
    try {
      await this.host.connect();
      if (!queues.includes('*')) await kernel.broker.declare(queues);
      this.unsubscribe = await kernel.store.subscribe((event) => {
        if (event.type !== 'canceled') return;
        this.byWorkflow.stopWorkflow(event.workflowId, () => new CanceledError(event.workflowId));
      }, ['canceled']);
      const handler = new DeliveryHandler(kernel, this.options.leaseMs, this.byWorkflow, this.continuations());
      this.consumer = await kernel.broker.consume(queues, { prefetch: this.options.concurrency, leaseMs: this.options.leaseMs }, (delivery: Delivery) => {
        this.inflight += 1;
        handler.handle(delivery).then(this.finished, this.finished);
      });
    } catch (error) {
      // Not started: a later start() tries again instead of returning as if it had worked.
      this.unsubscribe?.();
      this.unsubscribe = undefined;
      if (this.state === 'started') this.state = 'new';
      throw error;
    }
    this.sweeper.start();
    kernel.logger.info({ queues, concurrency: this.options.concurrency, broker: kernel.broker.kind, store: kernel.store.kind }, 'worker started');
  }

  /**
   * Lets completions hand this worker the next node when its broker can hold a prefetch slot for it (memory,
   * redis; not AMQP, whose prefetch the server keeps): deliver.ts Continuations.
   */
  private continuations(): Continuations {
    const queues = this.options.queues.includes('*') ? '*' : [...this.options.queues];
    return {
      queues,
      accepting: () => this.state === 'started' && this.consumer?.hold !== undefined,
      hold: () => (this.state === 'started' ? this.consumer?.hold?.() : undefined),
    };
  }

  /** Runs one sweep now (tests, operators). */
  async sweep(): Promise<void> {
    await this.sweeper.sweepOnce();
  }

  /** Nodes running right now. */
  get running(): number {
    return this.inflight;
  }

  /** Resolves once no delivery is being handled. */
  private drained(): Promise<void> {
    return this.inflight === 0 ? Promise.resolve() : new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Stops taking work, lets in-flight nodes finish up to the grace period, hands the rest back. */
  async close(): Promise<void> {
    if (this.state === 'closed' || this.state === 'closing') return;
    const wasStarted = this.state === 'started';
    this.state = 'closing';
    if (wasStarted) {
      await this.consumer?.stop();
      await this.sweeper.stop();
      const drained = this.drained();
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.options.shutdownGraceMs)));
      await Promise.race([drained, grace]);
      clearTimeout(timer);
      if (this.inflight > 0) {
        this.host.kernel.logger.warn({ running: this.inflight }, 'shutdown grace over; handing in-flight nodes back');
        this.byWorkflow.stopAll(SHUTDOWN);
        await this.drained();
      }
      this.unsubscribe?.();
      this.host.kernel.logger.info({ queues: this.options.queues }, 'worker stopped');
    }
    this.state = 'closed';
    this.host.forget(this);
  }
}

function validate(o: Required<WorkerOptions>): void {
  if (!Array.isArray(o.queues) || o.queues.length === 0) throw new CanvasError('worker: queues must be a non-empty array');
  for (const q of o.queues) if (q !== '*') validateQueueName(q, 'worker');
  if (!Number.isInteger(o.concurrency) || o.concurrency < 1 || o.concurrency > 10_000) throw new CanvasError('worker: concurrency must be a whole number from 1 to 10000');
  for (const key of ['leaseMs', 'sweepIntervalMs', 'republishAfterMs', 'shutdownGraceMs'] as const) {
    const v = o[key];
    if (!Number.isInteger(v) || v < 1 || v > MAX_DELAY_MS) throw new CanvasError(`worker: ${key} must be a whole number of ms from 1 to ${MAX_DELAY_MS}`);
  }
}
