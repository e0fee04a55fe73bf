/**
 * The app: tasks, producers and workers of one braid namespace. `createApp()` is synchronous; connections
 * open on first use. Every semantic lives in the runtime pieces it wires together (start, worker, handle);
 * eager mode is the same runtime on the embedded broker and store with an in-process worker.
 */
import type { Logger } from 'pino';
import { CanvasError, ConfigError, WorkflowStateError } from '../core/errors.js';
import { MAX_DELAY_MS, type TaskOptions } from '../core/options.js';
import { makeTask, type Task } from '../canvas/task.js';
import type { JsonReturn } from '../canvas/typing.js';
import { isCanvas, type Canvas, type NoParent } from '../canvas/values.js';
import { makeBroker, makeStore, schemeOf } from './connect.js';
import type { TaskContext } from './context.js';
import { buildStoredGraph } from './fragment.js';
import type { StoredGraph } from '../stores/store.js';
import { WorkflowHandle, type HandleHost } from './handle.js';
import { assertWorkflowId, newWorkflowId } from './ids.js';
import { Counters, createAndPublish, declareGraphQueues, joinCarrier, publishReady, type Kernel } from './kernel.js';
import { DEFAULT_LIMITS, type Limits } from './limits.js';
import { defaultLogger } from './logger.js';
import { TaskRegistry, type AnyHandler, type Routes } from './registry.js';
import { SettleWatch } from './settle-watch.js';
import { Worker, type WorkerOptions } from './worker.js';

/** What `createApp()` takes. Every field is optional. */
export interface AppOptions {
  /** `memory://` (default), `redis://host:port/db` or `amqp://user:pass@host:port/vhost`. */
  broker?: string;
  /** Where graphs and results persist. Default: the broker URL when it is redis://, else memory://. */
  store?: string;
  /** Namespace of every key, queue and channel (default `braid`). */
  prefix?: string;
  /** Options every task inherits. */
  defaults?: TaskOptions;
  /** Glob on task names -> options, e.g. `{ 'emails.*': { queue: 'emails' } }`. */
  routes?: Routes;
  /** A pino logger (default: pino at BRAID_LOG_LEVEL, else info). */
  logger?: Logger;
  /** true: `start()` runs the whole workflow in this process, no worker needed (tests). */
  eager?: boolean;
  /** Size limits (RELIABILITY §5). */
  limits?: Partial<Limits>;
  /** How long settled workflows are kept (default 7 days). */
  retentionMs?: number;
  /** Clock of the embedded store and broker (tests). Remote stores use the server's clock. */
  clock?: () => number;
  /** Random source for retry jitter (tests). */
  random?: () => number;
  /** Keep per-workflow transition history in the store (fault tests). */
  storeHistory?: boolean;
  /** Fallback poll interval of `result()` when a notification is missed (default 2000). */
  resultPollMs?: number;
}

/** What `app.start()` takes. */
export interface StartOptions {
  /** 1-128 characters of `A-Z a-z 0-9 . _ : -`. Starting an existing id returns that workflow. */
  workflowId?: string;
}

const PREFIX = /^[A-Za-z0-9_-]{1,64}$/;

/** Refuses a duration option that is not a whole number of ms from 1 to `max` (ConfigError); undefined passes. */
function checkMs(key: string, value: number | undefined, max: number): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new ConfigError(`${key} must be a whole number of ms from 1 to ${max}, got ${String(value)}`);
  }
}

/** One braid app. Made by {@link createApp}. */
export class App {
  readonly registry: TaskRegistry;
  readonly counters = new Counters();
  private readonly options: AppOptions;
  private readonly logger: Logger;
  private readonly limits: Limits;
  private kernelPromise: Promise<Kernel> | undefined;
  private kernelValue: Kernel | undefined;
  /** The kernel once `kernel()` has resolved (eager worker started): `start()` then needs no await for it. */
  private connected: Kernel | undefined;
  /** Whether `start()` declares the queues of a graph first (a remote broker; RELIABILITY D6). */
  private readonly declaresQueues: boolean;
  private readonly host: HandleHost;
  private watch: SettleWatch | undefined;
  private storeEpoch: string | null = null;
  private readonly workers = new Set<Worker>();
  private eagerWorker: Worker | undefined;
  private closed = false;

  constructor(options: AppOptions = {}) {
    this.options = { ...options };
    const prefix = options.prefix ?? 'braid';
    if (!PREFIX.test(prefix)) throw new ConfigError(`prefix must be 1-64 characters of A-Z a-z 0-9 _ -, got ${JSON.stringify(prefix)}`);
    if (options.eager && ((options.broker && schemeOf(options.broker) !== 'memory') || (options.store && schemeOf(options.store) !== 'memory'))) {
      throw new ConfigError('eager mode runs on the embedded memory:// broker and store');
    }
    checkMs('retentionMs', options.retentionMs, Number.MAX_SAFE_INTEGER);
    checkMs('resultPollMs', options.resultPollMs, MAX_DELAY_MS);
    if (options.broker) schemeOf(options.broker);
    if (options.store) schemeOf(options.store);
    this.logger = options.logger ?? defaultLogger();
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.registry = new TaskRegistry(options.defaults ?? {}, options.routes ?? {});
    this.declaresQueues = !options.eager && schemeOf(this.brokerUrl()) !== 'memory';
    this.host = this.handleHost();
  }

  /** The options the app was made with (a copy). */
  get settings(): Readonly<AppOptions> {
    return { ...this.options };
  }

  /**
   * The same app — tasks, defaults, routes, logger, limits — on other URLs or another prefix (the CLI's
   * `--broker`/`--store`/`--prefix`). Never eager. Returns this app when nothing changes.
   */
  withConnections(overrides: Pick<AppOptions, 'broker' | 'store' | 'prefix'>): App {
    const changes = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
    if (Object.keys(changes).length === 0) return this;
    const copy = new App({ ...this.options, ...changes, eager: false });
    for (const name of this.registry.names()) {
      const task = this.registry.get(name)!;
      copy.registry.add({ ...task });
    }
    return copy;
  }

  /** The app's namespace. */
  get prefix(): string {
    return this.options.prefix ?? 'braid';
  }

  /**
   * Registers a task. The name is its identity across processes.
   * @example const add = app.task('math.add', (ctx, x: number, y: number) => x + y, { queue: 'math' });
   */
  task<A extends unknown[], R>(
    name: string,
    handler: ((ctx: TaskContext, ...args: A) => R | Promise<R>) & JsonReturn<Awaited<R>>,
    options: TaskOptions = {},
  ): Task<A, Awaited<R>> {
    this.registry.add({ name, handler: handler as unknown as AnyHandler, options });
    return makeTask<A, Awaited<R>>(name, options);
  }

  /**
   * Compiles a canvas, stores the whole graph, then sends its first nodes. In eager mode the workflow runs to
   * the end in this process before this resolves.
   */
  async start<R>(canvas: Canvas<R, NoParent>, options: StartOptions = {}): Promise<WorkflowHandle<R>> {
    if (!isCanvas(canvas)) throw new CanvasError('start() takes a canvas: a signature, chain, group or chord');
    const kernel = this.connected !== undefined && !this.closed ? this.connected : await this.kernel();
    const workflowId = options.workflowId ?? kernel.store.mintWorkflowId?.() ?? newWorkflowId();
    assertWorkflowId(workflowId);
    let graph: StoredGraph | undefined = buildStoredGraph(canvas, this.registry, this.limits);
    // Every queue a node or errback of the graph routes to, declared once per broker (D6).
    if (this.declaresQueues) {
      const declaring = declareGraphQueues(kernel, graph);
      if (declaring) await declaring;
    }
    this.watch?.expect(workflowId); // before the create: its settle notification cannot come first
    // Only the count outlives the create: the graph is garbage once it is sent, not kept by this frame until the
    // reply (with a burst of starts in flight, those graphs would survive young-generation GCs and be copied).
    // A suspended async frame keeps every local, used again or not, hence the explicit let-go.
    const nodes = graph.nodes.length;
    const creating = createAndPublish(kernel, workflowId, graph);
    graph = undefined;
    const created = await creating;
    if (!created) this.watch?.heard(workflowId); // an existing workflow may have settled already: read it
    if (created) this.logger.debug({ workflowId, nodes }, 'workflow started');
    const handle = new WorkflowHandle<R>(workflowId, this.host);
    if (this.options.eager) await handle.settled();
    return handle;
  }

  /** A handle for an existing workflow (any process). */
  workflow<R = unknown>(id: string): WorkflowHandle<R> {
    assertWorkflowId(id);
    return new WorkflowHandle<R>(id, this.host);
  }

  /**
   * Re-runs failed, blocked and canceled nodes (or the given ones and everything downstream of them).
   * Succeeded results are kept. Rejects with WorkflowStateError while running or once succeeded.
   */
  async replay(id: string, options: { nodes?: string[] } = {}): Promise<WorkflowHandle> {
    assertWorkflowId(id);
    const kernel = await this.kernel();
    const result = await kernel.store.replay(id, options.nodes);
    switch (result.status) {
      case 'missing': throw new WorkflowStateError(id, `no workflow with id ${id}`);
      case 'refused': throw new WorkflowStateError(id, `workflow ${id} is ${result.state}; only a failed or canceled workflow can be replayed`);
      case 'unknown_nodes': throw new WorkflowStateError(id, `workflow ${id} has no node ${result.nodes.join(', ')}`);
      case 'ok': break;
    }
    await publishReady(kernel, result.ready);
    this.logger.info({ workflowId: id, nodes: result.nodes }, 'workflow replayed');
    const handle = this.workflow(id);
    if (this.options.eager) await handle.settled();
    return handle;
  }

  /** Cancels a workflow: queued nodes never run, running nodes see ctx.signal aborted. */
  async cancel(id: string): Promise<void> {
    assertWorkflowId(id);
    const kernel = await this.kernel();
    const result = await kernel.store.cancel(id);
    if (result.status === 'missing') throw new WorkflowStateError(id, `no workflow with id ${id}`);
    this.logger.info({ workflowId: id, status: result.status }, 'workflow cancel');
  }

  /** A worker for some queues (start it with `await worker.start()`). */
  worker(options: WorkerOptions = {}): Worker {
    if (this.closed) throw new ConfigError('the app is closed');
    const worker = new Worker({ kernel: this.lazyKernel(), connect: () => this.kernel().then(() => undefined), forget: (w) => this.workers.delete(w) }, options);
    this.workers.add(worker);
    return worker;
  }

  /** Releases every connection, timer and worker of the app. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.workers].map((w) => w.close()));
    await this.watch?.close();
    if (this.kernelPromise) {
      const kernel = await this.kernelPromise.catch(() => undefined);
      if (kernel) await Promise.allSettled([kernel.broker.close(), kernel.store.close()]);
    }
  }

  /** Connects broker and store once; in eager mode also starts the in-process worker. */
  async kernel(): Promise<Kernel> {
    if (this.closed) throw new ConfigError('the app is closed');
    // A failed connect is not kept: the next use connects again (the server may be back by then).
    this.kernelPromise ??= this.connect().then((kernel) => (this.connected = kernel), (error: unknown) => {
      this.kernelPromise = undefined;
      throw error;
    });
    return this.kernelPromise;
  }

  private brokerUrl(): string {
    return this.options.broker ?? 'memory://';
  }

  private storeUrl(): string {
    const broker = this.brokerUrl();
    return this.options.store ?? (schemeOf(broker) === 'redis' ? broker : 'memory://');
  }

  private async connect(): Promise<Kernel> {
    const ctx = {
      prefix: this.prefix, logger: this.logger, history: this.options.storeHistory ?? false,
      ...(this.options.clock ? { clock: this.options.clock } : {}),
      ...(this.options.retentionMs !== undefined ? { retentionMs: this.options.retentionMs } : {}),
    };
    const [broker, store] = await Promise.all([makeBroker(this.brokerUrl(), ctx), makeStore(this.storeUrl(), ctx)]);
    try {
      await Promise.all([broker.connect(), store.connect()]);
      this.storeEpoch = await store.epoch();
    } catch (error) {
      // Whichever side did connect is released, so a retry starts clean and nothing reconnects in the background.
      await Promise.allSettled([broker.close(), store.close()]);
      throw error;
    }
    if (schemeOf(this.storeUrl()) === 'memory' && schemeOf(this.brokerUrl()) !== 'memory') {
      this.logger.warn('the store is memory:// while the broker is remote: workers in other processes cannot see this app\'s workflows');
    }
    joinCarrier(store, broker);
    const kernel: Kernel = { store, broker, registry: this.registry, logger: this.logger, limits: this.limits, random: this.options.random ?? Math.random, counters: this.counters };
    this.kernelValue = kernel;
    if (this.options.eager) {
      this.eagerWorker = new Worker({ kernel, connect: async () => undefined, forget: (w) => this.workers.delete(w) }, { queues: ['*'], concurrency: 16, republishAfterMs: 60_000 });
      this.workers.add(this.eagerWorker);
      await this.eagerWorker.start();
    }
    return kernel;
  }

  /** The kernel for a worker made before connecting: its fields are read only after `connect()`. */
  private lazyKernel(): Kernel {
    const self = this;
    const need = (): Kernel => {
      if (!self.kernelValue) throw new ConfigError('not connected yet');
      return self.kernelValue;
    };
    return {
      get store() { return need().store; },
      get broker() { return need().broker; },
      registry: this.registry,
      logger: this.logger,
      limits: this.limits,
      random: this.options.random ?? Math.random,
      counters: this.counters,
    };
  }

  private handleHost(): HandleHost {
    const self = this;
    return {
      get kernel() { return self.kernelValue ?? self.lazyKernel(); },
      get watch() {
        self.watch ??= new SettleWatch(self.kernelValue!.store, self.options.resultPollMs ?? 2_000);
        return self.watch;
      },
      connect: () => self.kernel().then(() => undefined),
      epoch: () => self.storeEpoch,
    };
  }
}

/**
 * Makes an app. Nothing connects until the app is used.
 * @example
 * const app = createApp({ broker: 'redis://127.0.0.1:6379/0' });
 */
export function createApp(options: AppOptions = {}): App {
  return new App(options);
}
