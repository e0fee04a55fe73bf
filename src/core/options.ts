/**
 * Task options: their defaults, their validation, how the levels merge (app defaults < routes < task <
 * signature; the most specific wins), and the retry delay schedule.
 */
import { CanvasError } from './errors.js';

/** An error class, or the `name` of an error, that `autoretryFor` matches. */
export type ErrorMatcher = string | (abstract new (...args: never[]) => Error);

/** Options a task, an app's `defaults`, a route or a signature's `.set()` may give. All durations are ms. */
export interface TaskOptions {
  /** Queue the node is sent to (default: routes, else `'default'`). */
  queue?: string;
  /** Higher runs first where the broker supports it (0-9). */
  priority?: number;
  /** Retries after the first attempt; then the node fails for good (default 3). */
  maxRetries?: number;
  /** Error classes (or error `name` strings) that are retried automatically (default none). */
  autoretryFor?: readonly ErrorMatcher[];
  /** Base delay of a retry (default 1000). */
  retryDelayMs?: number;
  /** true: the delay of retry n (n = 0, 1, ...) is `retryDelayMs * 2^n` (default false). */
  retryBackoff?: boolean;
  /** Cap on the computed delay (default 600000). */
  retryBackoffMaxMs?: number;
  /** When backing off, the delay is uniform in [0, computed delay] (default true). */
  retryJitter?: boolean;
  /** `ctx.signal` aborts with `SoftTimeLimitExceeded`; the handler may recover. */
  softTimeLimitMs?: number;
  /** The attempt fails with `TimeLimitExceeded`, whatever the handler does. */
  timeLimitMs?: number;
  /** The message is acknowledged only after the node's outcome is stored (default true). */
  acksLate?: boolean;
  /** The result is not kept once the workflow settles (downstream nodes still receive it). */
  ignoreResult?: boolean;
  /** Delay before the node may start once it is ready (default 0). */
  countdownMs?: number;
  /** Times a node may go back to its queue because its worker died; then `WorkerLostError` (default 5). */
  maxRedeliveries?: number;
}

/** The options of one node after every level is merged: what is stored with the node. */
export interface ResolvedOptions {
  queue: string;
  priority?: number;
  maxRetries: number;
  /** Names only: classes are matched by their `name` so the stored form is JSON. */
  autoretryFor: string[];
  retryDelayMs: number;
  retryBackoff: boolean;
  retryBackoffMaxMs: number;
  retryJitter: boolean;
  softTimeLimitMs?: number;
  timeLimitMs?: number;
  acksLate: boolean;
  ignoreResult: boolean;
  countdownMs: number;
  maxRedeliveries: number;
}

/** The defaults of API.md's TaskOptions table. */
export const DEFAULT_OPTIONS: Readonly<ResolvedOptions> = Object.freeze({
  queue: 'default',
  maxRetries: 3,
  autoretryFor: [],
  retryDelayMs: 1000,
  retryBackoff: false,
  retryBackoffMaxMs: 600_000,
  retryJitter: true,
  acksLate: true,
  ignoreResult: false,
  countdownMs: 0,
  maxRedeliveries: 5,
});

/** Largest delay braid accepts (2^31 − 1 ms, RELIABILITY D10). */
export const MAX_DELAY_MS = 2 ** 31 - 1;

const durationKeys = ['retryDelayMs', 'retryBackoffMaxMs', 'softTimeLimitMs', 'timeLimitMs', 'countdownMs'] as const;
const countKeys = ['maxRetries', 'maxRedeliveries'] as const;
const knownKeys = new Set<string>([
  'queue', 'priority', 'autoretryFor', 'retryBackoff', 'retryJitter', 'acksLate', 'ignoreResult',
  ...durationKeys, ...countKeys,
]);

/** Whether an options object sets nothing (no own enumerable key), without making the array of its keys. */
export function hasNoOptions(options: object): boolean {
  for (const key in options) if (Object.hasOwn(options, key)) return false;
  return true;
}

/**
 * Refuses options that are not what they claim: unknown keys, negative / NaN / oversized durations
 * (RELIABILITY §5 row 15), bad queue names (row 17), priorities outside 0-9.
 */
export function validateOptions(options: TaskOptions, where: string): void {
  if (typeof options !== 'object' || options === null) throw new CanvasError(`${where}: options must be an object`);
  for (const key of Object.keys(options)) {
    if (!knownKeys.has(key)) throw new CanvasError(`${where}: unknown option ${JSON.stringify(key)}`);
  }
  for (const key of durationKeys) {
    const value = options[key];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_DELAY_MS) {
      throw new CanvasError(`${where}: ${key} must be a whole number of ms from 0 to ${MAX_DELAY_MS}, got ${String(value)}`);
    }
  }
  for (const key of countKeys) {
    const value = options[key];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 1_000_000) {
      throw new CanvasError(`${where}: ${key} must be a whole number from 0 to 1000000, got ${String(value)}`);
    }
  }
  if (options.priority !== undefined) {
    const p = options.priority;
    if (typeof p !== 'number' || !Number.isInteger(p) || p < 0 || p > 9) {
      throw new CanvasError(`${where}: priority must be a whole number from 0 to 9, got ${String(p)}`);
    }
  }
  if (options.queue !== undefined) validateQueueName(options.queue, where);
  if (options.autoretryFor !== undefined) {
    if (!Array.isArray(options.autoretryFor)) throw new CanvasError(`${where}: autoretryFor must be an array`);
    for (const m of options.autoretryFor) {
      if (typeof m !== 'string' && typeof m !== 'function') {
        throw new CanvasError(`${where}: autoretryFor takes error classes or error names`);
      }
    }
  }
  for (const key of ['retryBackoff', 'retryJitter', 'acksLate', 'ignoreResult'] as const) {
    const value = options[key];
    if (value !== undefined && typeof value !== 'boolean') throw new CanvasError(`${where}: ${key} must be a boolean`);
  }
}

/** Refuses a queue name that is empty, over 255 bytes, starts with `amq.` or holds braces or spaces. */
export function validateQueueName(queue: unknown, where: string): asserts queue is string {
  if (typeof queue !== 'string' || queue.length === 0) throw new CanvasError(`${where}: queue name must be a non-empty string`);
  if (Buffer.byteLength(queue) > 255) throw new CanvasError(`${where}: queue name is over 255 bytes`);
  if (queue.startsWith('amq.')) throw new CanvasError(`${where}: queue names starting with "amq." are reserved by AMQP`);
  if (!/^[A-Za-z0-9._:-]+$/.test(queue)) throw new CanvasError(`${where}: queue name ${JSON.stringify(queue)} may use only A-Z a-z 0-9 . _ : -`);
}

/** Merges option levels, least specific first, onto the defaults. Classes in `autoretryFor` become names. */
export function resolveOptions(...levels: ReadonlyArray<TaskOptions | undefined>): ResolvedOptions {
  const out: ResolvedOptions = { ...DEFAULT_OPTIONS, autoretryFor: [] };
  for (const level of levels) {
    if (!level) continue;
    for (const [key, value] of Object.entries(level)) {
      if (value === undefined) continue;
      if (key === 'autoretryFor') out.autoretryFor = (value as ErrorMatcher[]).map(matcherName);
      else (out as unknown as Record<string, unknown>)[key] = value;
    }
  }
  return out;
}

function matcherName(matcher: ErrorMatcher): string {
  return typeof matcher === 'string' ? matcher : matcher.name;
}

/**
 * Whether a thrown value is retried automatically under these options: any class name on its prototype chain
 * (or its `name`) is in `autoretryFor`, so a subclass of a listed class matches, as Celery's isinstance does.
 */
export function isAutoretried(options: ResolvedOptions, thrown: unknown): boolean {
  if (options.autoretryFor.length === 0) return false;
  return errorLineage(thrown).some((name) => options.autoretryFor.includes(name));
}

/** The names a thrown value answers to: its `name`, then each constructor name up its prototype chain. */
export function errorLineage(thrown: unknown): string[] {
  const names: string[] = [];
  try {
    if (typeof thrown !== 'object' || thrown === null) return names;
    const own = (thrown as { name?: unknown }).name;
    if (typeof own === 'string') names.push(own);
    for (let proto: unknown = Object.getPrototypeOf(thrown); proto && names.length < 32; proto = Object.getPrototypeOf(proto)) {
      const ctor = (proto as { constructor?: { name?: unknown } }).constructor;
      if (typeof ctor?.name === 'string' && ctor.name && ctor.name !== 'Object') names.push(ctor.name);
    }
  } catch {
    // a hostile getter or proxy: what was read so far is the answer
  }
  return names;
}

/**
 * Delay before retry number `retryIndex` (0 for the first retry): `retryDelayMs`, or with `retryBackoff`
 * `min(retryDelayMs * 2^n, retryBackoffMaxMs)`, then with `retryJitter` uniform in [0, that]. `random` is
 * injectable so the schedule is testable.
 */
export function retryDelay(options: ResolvedOptions, retryIndex: number, random: () => number = Math.random): number {
  if (!options.retryBackoff) return options.retryDelayMs;
  const computed = Math.min(options.retryDelayMs * 2 ** Math.min(retryIndex, 64), options.retryBackoffMaxMs);
  if (!options.retryJitter) return computed;
  return Math.floor(random() * (computed + 1));
}
