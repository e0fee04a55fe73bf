/**
 * Runs the same semantics tests once per execution mode, so every transport is held to API.md by one suite.
 *
 * - `eager`: `createApp({ eager: true })`; `start()` runs the workflow to its end in this process.
 * - `memory`: `createApp()` on the embedded broker and store, with `app.worker()` started in this process.
 *
 * A transport adds a mode with {@link workerMode} in {@link MODES}: it gives the broker and store URLs (starting
 * a private server once per test file if it needs one), a `skip` reason when its server cannot be found (see
 * services.ts), and `dispose` to stop what it started. Each environment gets its own `prefix`, so tests that
 * share a server never see each other's queues or keys:
 *
 *   const redis = await requireRedis();                  // top-level await in this module
 *   let server: Promise<RedisServer> | undefined;
 *   workerMode({
 *     name: 'redis', priorities: true, skip: redis.skip,
 *     urls: async () => { const s = await (server ??= RedisServer.start()); return { broker: s.url, store: s.url }; },
 *     dispose: async () => { if (server) await (await server).stop(); server = undefined; },
 *   })
 *
 * Tests never branch on the mode's name; they ask for capabilities (`mode.eager`, `mode.ownWorker`) where a
 * semantic needs one. `BRAID_TEST_MODES=memory,redis` limits the modes a run uses.
 *
 * The remote modes:
 * - `redis`: broker and store on one private `redis-server` per test file (redis-server.ts).
 * - `amqp`: the shared RabbitMQ (127.0.0.1:5672 or `BRAID_AMQP_URL`) as broker, quorum queues, and a private
 *   `redis-server` per test file as store. Each environment's prefix lives under one random
 *   `braidtest_<hex>` prefix per test file; what an environment declared is deleted when it closes, and the
 *   file's last step deletes the topologies it declared.
 *   RabbitMQ 3.x quorum queues deliver FIFO whatever the priority, so `priorities` is false there.
 *
 * By default (`BRAID_TEST_MODES` unset) eager, memory and redis run every semantics file, and amqp a subset of
 * them, {@link AMQP_SUBSET} (why: see there). Naming a mode runs it on every file:
 * `BRAID_TEST_MODES=eager,memory,redis,amqp npm test` is the whole matrix.
 *
 * @example
 * forEachMode((mode) => {
 *   it('adds', async () => {
 *     const t = await mode.create();
 *     const add = t.app.task('add', (_ctx, a: number, b: number) => a + b);
 *     const wf = await t.start(add.s(1, 2));
 *     assert.equal(await wf.result(), 3);
 *   });
 * });
 */
import { randomUUID } from 'node:crypto';
import { after, afterEach, describe } from 'node:test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { createApp, type App, type AppOptions, type Canvas, type NoParent, type StartOptions, type WorkerOptions, type WorkflowHandle } from '../../src/index.js';
import type { Worker } from '../../src/runtime/worker.js';
import { AMQP_URL, AmqpJanitor, amqpAddress } from './amqp.js';
import { CommitProbe } from './probe.js';
import { RedisServer } from './redis-server.js';
import { requireRabbit, requireRedis } from './services.js';

/** App options a test may give (the mode decides broker, store, eager and logger). */
export type TestAppOptions = Omit<AppOptions, 'eager' | 'broker' | 'store' | 'logger'>;

/** What a test asks of a fresh environment. */
export interface EnvOptions {
  app?: TestAppOptions;
  /** Options of the in-process worker (modes that run one). Queues default to every queue the app knows. */
  worker?: WorkerOptions;
}

/** One fresh app in one mode, closed after the test. */
export interface TestEnv {
  readonly mode: Mode;
  readonly app: App;
  /** Sees every commit the store accepts, by node id (no polling). */
  readonly probe: CommitProbe;
  /**
   * Starts the mode's workers if not yet started (so register tasks first), then `app.start()`. In eager mode
   * this resolves only once the workflow settled: to interact with a running workflow, do not await it first.
   */
  start<R>(canvas: Canvas<R, NoParent>, options?: StartOptions): Promise<WorkflowHandle<R>>;
  /** The in-process worker, once started (undefined in eager mode). */
  readonly worker: Worker | undefined;
  /**
   * Environment variables that put a child process's app in this environment's mode, on its servers and under
   * its prefix (read by test/support/close-exits.ts): `BRAID_TEST_EAGER`, `BRAID_TEST_BROKER`,
   * `BRAID_TEST_STORE`, `BRAID_TEST_PREFIX`. `queues`, the queues the child will use, are declared through this
   * environment first, so what cleans up after it (the amqp mode's purge and delete) covers the child's too.
   */
  childEnv(queues: readonly string[]): Promise<Record<string, string>>;
  close(): Promise<void>;
}

/** Where an environment's app connects (none: the embedded memory://, or eager). */
interface Connection {
  broker?: string;
  store?: string;
  prefix?: string;
}

/** An execution mode. */
export interface Mode {
  readonly name: string;
  /** True when `start()` itself runs the workflow to its end. */
  readonly eager: boolean;
  /** True when a test's own worker (`EnvOptions.worker`) runs the nodes, so its concurrency and queues apply. */
  readonly ownWorker: boolean;
  /** True when the broker hands out higher priorities first (checked on one worker of concurrency 1). */
  readonly priorities: boolean;
  /**
   * True when a completion may hand its worker the next node (a continuation, store.ts ContinueRequest): the
   * broker can hold a prefetch slot without a delivery (Consumer.hold; not AMQP).
   */
  readonly continues: boolean;
  /** Why the mode cannot run here (its server is missing), shown as a loud skip; false when it can. */
  readonly skip: string | false;
  /** A fresh environment; closed automatically after the test. */
  create(options?: EnvOptions): Promise<TestEnv>;
  /** Releases what the mode started for this test file (a private server), after its last test. */
  dispose?(): Promise<void>;
}

/** Short retry delays so tests are fast; a test overrides them where it is what is being tested. */
const FAST_DEFAULTS = { retryDelayMs: 1 } as const;

function appOptions(options: TestAppOptions | undefined): TestAppOptions {
  return { ...options, defaults: { ...FAST_DEFAULTS, ...options?.defaults } };
}

class Env implements TestEnv {
  readonly probe: CommitProbe;
  worker: Worker | undefined;
  private workerStarted: Promise<void> | undefined;
  /**
   * Keeps the event loop alive while the test runs: the runtime's own timers (lease renewals, sweeps) are
   * unref'd, and a test may wait on nothing but them and its own promises.
   */
  private readonly keepAlive = setInterval(() => undefined, 60_000);

  constructor(
    readonly mode: Mode,
    readonly app: App,
    private readonly workerOptions: WorkerOptions | undefined,
    private readonly runsWorker: boolean,
    private readonly connection: Connection = {},
    private readonly cleanup: (() => Promise<void>) | undefined = undefined,
  ) {
    this.probe = new CommitProbe(app);
  }

  async start<R>(canvas: Canvas<R, NoParent>, options?: StartOptions): Promise<WorkflowHandle<R>> {
    await this.probe.install();
    if (this.runsWorker) await this.startWorker();
    return this.app.start(canvas, options);
  }

  private startWorker(): Promise<void> {
    this.workerStarted ??= (async () => {
      const options = { concurrency: 8, shutdownGraceMs: 1_000, ...this.workerOptions };
      options.queues ??= this.app.registry.knownQueues();
      this.worker = this.app.worker(options);
      await this.worker.start();
    })();
    return this.workerStarted;
  }

  async childEnv(queues: readonly string[]): Promise<Record<string, string>> {
    if (this.mode.eager) return { BRAID_TEST_EAGER: '1' };
    await (await this.app.kernel()).broker.declare(queues);
    const { broker, store, prefix } = this.connection;
    return { ...(broker ? { BRAID_TEST_BROKER: broker } : {}), ...(store ? { BRAID_TEST_STORE: store } : {}), ...(prefix ? { BRAID_TEST_PREFIX: prefix } : {}) };
  }

  async close(): Promise<void> {
    try {
      await this.app.close();
      await this.cleanup?.();
    } finally {
      clearInterval(this.keepAlive);
    }
  }
}

function silent(): AppOptions['logger'] {
  return pino({ level: 'silent' });
}

/** Environments made during the running test, closed after it. */
const open = new Set<TestEnv>();

function track(env: TestEnv): TestEnv {
  open.add(env);
  return env;
}

const eagerMode: Mode = {
  name: 'eager',
  eager: true,
  ownWorker: false,
  priorities: true,
  continues: false,
  skip: false,
  async create(options = {}) {
    const app = createApp({ ...appOptions(options.app), eager: true, logger: silent() });
    return track(new Env(eagerMode, app, undefined, false));
  },
};

/** How to build a mode whose nodes run on a worker the test environment starts in this process. */
export interface WorkerModeSpec {
  name: string;
  priorities: boolean;
  /** Mode.continues. */
  continues: boolean;
  skip?: string | false;
  /** Broker and store URLs for a new environment (omitted: the embedded memory:// of each app). */
  urls?: () => Promise<{ broker?: string; store?: string }>;
  /**
   * Shortest worker lease the transport accepts: a test's shorter `leaseMs` is raised to it (the semantics are
   * the same, only slower). See the redis mode for why.
   */
  minLeaseMs?: number;
  /** The prefix of a new environment (default: a random `t<hex>`). */
  prefix?: () => string;
  /**
   * Called once the environment's app is made (before any test code uses it); returns what to do after the
   * app closed (e.g. delete the queues it declared).
   */
  attach?: (app: App, prefix: string) => Promise<(() => Promise<void>) | undefined>;
  dispose?: () => Promise<void>;
}

/** A mode whose app talks to a broker and store by URL, with a worker started by the environment. */
export function workerMode(spec: WorkerModeSpec): Mode {
  const mode: Mode = {
    name: spec.name,
    eager: false,
    ownWorker: true,
    priorities: spec.priorities,
    continues: spec.continues,
    skip: spec.skip ?? false,
    async create(options = {}) {
      const urls = spec.urls ? await spec.urls() : {};
      const prefix = spec.prefix?.() ?? (spec.urls ? `t${randomUUID().replace(/-/g, '').slice(0, 16)}` : undefined);
      const app = createApp({ ...appOptions(options.app), ...urls, ...(prefix ? { prefix } : {}), logger: silent() });
      const cleanup = spec.attach && prefix ? await spec.attach(app, prefix) : undefined;
      const floor = spec.minLeaseMs;
      const worker = floor !== undefined && options.worker?.leaseMs !== undefined && options.worker.leaseMs < floor ? { ...options.worker, leaseMs: floor } : options.worker;
      return track(new Env(mode, app, worker, true, { ...urls, ...(prefix ? { prefix } : {}) }, cleanup));
    },
    ...(spec.dispose ? { dispose: spec.dispose } : {}),
  };
  return mode;
}

const memoryMode = workerMode({ name: 'memory', priorities: true, continues: true });

const selected = process.env.BRAID_TEST_MODES?.split(',').map((m) => m.trim()).filter(Boolean);

/**
 * Test files the amqp mode runs when `BRAID_TEST_MODES` is unset: what a broker changes (delivery, delays and
 * retries, queues and routing, fan-in, redelivery and leases, cancel, replace, shutdown, close) and the property
 * test of random canvases (test/property/runtime.property.test.ts). The files left out (bad input, errbacks,
 * idempotency, nesting, replay, results, snapshots, unknown tasks, values) exercise the store and runtime, and
 * the amqp mode's store is the Redis store that the redis mode runs every file on; they run on amqp when it is
 * named. Measured on the 2-core machine (load 4): the redis mode on the files outside this list adds 1-5 s to
 * a run, amqp on them about 9 s (31 delay queues and quorum queues declared per file).
 */
export const AMQP_SUBSET = ['cancel', 'chain', 'chord', 'group', 'lifecycle', 'limits', 'queues', 'replace', 'retries', 'workers', 'runtime.property'];

/** This test file's base name without `.test.ts` (node --test runs each file in its own process). */
const testFile = (process.argv[1] ?? '').replace(/^.*[\\/]/, '').replace(/\.test\.[cm]?[jt]s$/, '');
const wanted = (name: string): boolean => (selected ? selected.includes(name) : name !== 'amqp' || AMQP_SUBSET.includes(testFile));

/** A private redis-server started on first use and stopped by `stop()` (once per test file and mode). */
function lazyRedis(): { url(): Promise<string>; stop(): Promise<void> } {
  let server: Promise<RedisServer> | undefined;
  return {
    url: async () => `${(await (server ??= RedisServer.start())).url}/0`,
    stop: async () => {
      const started = server;
      server = undefined;
      if (started) await (await started.catch(() => undefined))?.stop();
    },
  };
}

// Gates are asked only for the modes a run uses, so a run limited to memory says nothing about servers.
const redisGate = wanted('redis') || wanted('amqp') ? await requireRedis() : undefined;
const rabbitGate = wanted('amqp') ? await requireRabbit(amqpAddress().host, amqpAddress().port) : undefined;

const redisStore = lazyRedis();
const redisMode = workerMode({
  name: 'redis',
  priorities: true,
  continues: true,
  // The Redis broker refuses a consumer lease under 100 ms (ConfigError from RedisBroker.consume), though the
  // worker and API.md accept any positive leaseMs; the tests that use 30-60 ms leases run at 100 here.
  minLeaseMs: 100,
  skip: redisGate?.skip ?? false,
  urls: async () => {
    const url = await redisStore.url();
    return { broker: url, store: url };
  },
  dispose: () => redisStore.stop(),
});

const amqpStore = lazyRedis();
const janitor = new AmqpJanitor(`braidtest_${randomUUID().replace(/-/g, '').slice(0, 8)}`);
/**
 * Declaring braid's topology (31 delay levels, quorum queues) costs about a second on a loaded machine, so a
 * test file reuses its prefixes: when an environment closes, its queues are purged and its store keys deleted,
 * and the next environment takes the prefix (re-asserting the topology is cheap). Work queues ever declared
 * under each prefix, deleted with the topology after the file's last test.
 */
const amqpPrefixes = new Map<string, Set<string>>();
const freePrefixes: string[] = [];
const amqpMode = workerMode({
  name: 'amqp',
  priorities: false,
  continues: false,
  skip: redisGate?.skip || rabbitGate?.skip || false,
  urls: async () => ({ broker: AMQP_URL, store: await amqpStore.url() }),
  prefix: () => freePrefixes.pop() ?? janitor.prefix(String(amqpPrefixes.size + 1)),
  // Records every queue the app declares (producer and workers), to purge exactly those when it closes.
  attach: async (app, prefix) => {
    const declared = amqpPrefixes.get(prefix) ?? new Set<string>();
    amqpPrefixes.set(prefix, declared);
    const kernel = await app.kernel();
    const declare = kernel.broker.declare.bind(kernel.broker);
    kernel.broker.declare = async (queues) => {
      for (const queue of queues) if (queue !== '*') declared.add(queue);
      await declare(queues);
    };
    return async () => {
      // Nothing declared yet: no topology to empty (the next user of the prefix declares it).
      if (declared.size > 0) await janitor.empty(prefix, [...declared]);
      await deleteKeys(await amqpStore.url(), prefix);
      freePrefixes.push(prefix);
    };
  },
  dispose: async () => {
    await amqpStore.stop();
    if (amqpPrefixes.size === 0) return;
    // Exactly what was declared: every declaration went through the wrapped declare() (a `rabbitmqctl`
    // listing of leftovers costs two CLI boots per file; test/brokers/amqp-*.test.ts check for leaks).
    try {
      for (const [prefix, queues] of amqpPrefixes) if (queues.size > 0) await janitor.remove(prefix, [...queues]);
    } finally {
      await janitor.close();
    }
  },
});

/** Deletes every key of a store prefix (`{prefix:…}` and `prefix:…`). */
async function deleteKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url);
  try {
    for (const pattern of [`{${prefix}:*`, `${prefix}:*`]) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await redis.del(...keys);
      } while (cursor !== '0');
    }
  } finally {
    redis.disconnect();
  }
}

/** Every mode the semantics suite runs in (transports add theirs here), limited by `BRAID_TEST_MODES`. */
export const MODES: readonly Mode[] = [eagerMode, memoryMode, redisMode, amqpMode].filter((m) => wanted(m.name));

const disposing = new Set<Mode>();

/**
 * Declares `body` once per mode, inside `describe(<mode name>)`, closing every environment a test made after
 * it. `when` keeps the modes that have what a semantic needs (e.g. `(m) => m.ownWorker`).
 */
export function forEachMode(body: (mode: Mode) => void, options: { when?: (mode: Mode) => boolean } = {}): void {
  for (const mode of MODES) {
    if (options.when && !options.when(mode)) continue;
    if (mode.dispose && !disposing.has(mode)) {
      // Once per test file, after its last test (forEachMode runs at the top level of the file).
      disposing.add(mode);
      after(() => mode.dispose!());
    }
    describe(mode.name, { skip: mode.skip }, () => {
      afterEach(async () => {
        const envs = [...open];
        open.clear();
        await Promise.all(envs.map((env) => env.close()));
      });
      body(mode);
    });
  }
}

/** A promise with its resolve and reject exposed, for gates that tests open in the order they choose. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

/** Makes a {@link Deferred}. */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
