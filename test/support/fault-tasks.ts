/**
 * The tasks of the fault suite and the ledger they write (RELIABILITY §3), shared by the producer app in the
 * test process and by every forked worker (test/support/fault-worker.ts), so both resolve the same options.
 *
 * The ledger lives on its own redis-server that no fault touches. Per `ctx.idempotencyKey` (`wf/node`):
 *
 * | key | written | meaning |
 * |---|---|---|
 * | `<L>:starts` (hash) | HINCRBY at entry | executions; may exceed 1 |
 * | `<L>:effect:<key>` | `SET NX` after the work | the effect, once per key |
 * | `<L>:commits` (hash) | HINCRBY when that NX succeeded | exactly 1 per node that succeeds |
 * | `<L>:dupes` (hash) | HINCRBY when that NX found the effect already there | duplicates avoided |
 * | `<L>:naive` (hash) | HINCRBY after the work, no idempotency | amplification factor |
 *
 * How a node behaves comes from the ledger too, written by the harness before the workflow starts, so the
 * reference world knows it: `<L>:mode` (hash key -> `doom`, `flaky`, `slow:<ms>`, comma-separated). `doom`
 * fails for good (unless `<L>:fixed` is set: F10 "fixes the task"); `flaky` fails its first attempt with
 * FlakyError (in `autoretryFor`); `slow:<ms>` sleeps that long (so leases get renewed and `before-renew` is
 * reached). Every task then returns a deterministic fingerprint of its name and call arguments.
 *
 * `f.fan` replaces itself (`ctx.replace`) with a group of 10 immutable `f.work` signatures: its result is
 * their 10 results, which {@link fanResult} computes by hand for the reference.
 */
import { Redis } from 'ioredis';
import type { App } from '../../src/index.js';
import type { TaskContext } from '../../src/runtime/context.js';
import { Group, Signature } from '../../src/canvas/values.js';
import type { JsonValue } from '../../src/core/json.js';
import type { TaskOptions } from '../../src/core/options.js';

/** A small deterministic fingerprint of a task call: distinct inputs give distinct results. */
export function taskResult(task: string, args: readonly JsonValue[]): JsonValue {
  const text = JSON.stringify([task, args]);
  let h = 5381;
  for (let i = 0; i < text.length; i++) h = ((h * 33) ^ text.charCodeAt(i)) >>> 0;
  return `${task}#${h.toString(36)}`;
}

/** Thrown on the first attempt of a `flaky` node; retried automatically. */
export class FlakyError extends Error {
  override readonly name = 'FlakyError';
}

/** Thrown by a `doom` node on every attempt (until fixed); never retried. */
export class DoomError extends Error {
  override readonly name = 'DoomError';
}

/** App defaults of every fault-suite app (producer and workers must agree: dispatch is resolved by the producer). */
export const FAULT_DEFAULTS: TaskOptions = { autoretryFor: ['FlakyError'], retryDelayMs: 50, retryJitter: false, maxRetries: 3 };

/** Every task name the suite registers (the property test's canvases use `t.*` and `eb.*`). */
export const FAULT_TASKS = ['f.work', 'f.fan', 'f.eb', 't.a', 't.b', 't.c', 'eb.a', 'eb.b'] as const;

/** Queues every fault worker consumes (the property test's canvases route to q1-q3). */
export const FAULT_QUEUES = ['default', 'q1', 'q2', 'q3'];

/** Members of the group an `f.fan` node replaces itself with. */
export const FAN_WIDTH = 10;

/** The group `f.fan` replaces itself with. */
export function fanCanvas(label: JsonValue): Group<unknown, unknown> {
  return new Group(Array.from({ length: FAN_WIDTH }, (_, i) => new Signature('f.work', [label, i], true)));
}

/** The result of an `f.fan` node whose own last argument is `label`: its children's results, in order. */
export function fanResult(label: JsonValue): JsonValue[] {
  return Array.from({ length: FAN_WIDTH }, (_, i) => taskResult('f.work', [label, i]));
}

/** What a fault task returns for a call (pure; the reference uses it too). */
export function faultValue(task: string, args: readonly JsonValue[]): JsonValue {
  return task === 'f.fan' ? fanResult(args[args.length - 1] ?? null) : taskResult(task, args);
}

/** A parsed node mode. */
export interface NodeMode {
  doom: boolean;
  flaky: boolean;
  slowMs: number;
}

/** Parses `doom,flaky,slow:700`. */
export function parseMode(text: string | null | undefined): NodeMode {
  const mode: NodeMode = { doom: false, flaky: false, slowMs: 0 };
  for (const part of (text ?? '').split(',')) {
    if (part === 'doom') mode.doom = true;
    else if (part === 'flaky') mode.flaky = true;
    else if (part.startsWith('slow:')) mode.slowMs = Number(part.slice(5)) || 0;
  }
  return mode;
}

/** Formats a mode for the ledger ('' when plain). */
export function formatMode(mode: Partial<NodeMode>): string {
  const parts: string[] = [];
  if (mode.doom) parts.push('doom');
  if (mode.flaky) parts.push('flaky');
  if (mode.slowMs) parts.push(`slow:${mode.slowMs}`);
  return parts.join(',');
}

const BEGIN = `
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
local mode = redis.call('HGET', KEYS[2], ARGV[1])
local fixed = redis.call('GET', KEYS[3])
return { mode or '', fixed or '' }`;

const COMMIT = `
if redis.call('SET', KEYS[1], '1', 'NX') then
  redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
  return 1
end
redis.call('HINCRBY', KEYS[3], ARGV[1], 1)
return 0`;

/** Everything the ledger recorded, by idempotency key. */
export interface LedgerDump {
  starts: Map<string, number>;
  commits: Map<string, number>;
  dupes: Map<string, number>;
  naive: Map<string, number>;
}

/** A client of the ledger server under one namespace. */
export class Ledger {
  readonly redis: Redis;

  constructor(url: string, readonly ns: string) {
    this.redis = new Redis(url, { maxRetriesPerRequest: null, lazyConnect: false });
    this.redis.on('error', () => undefined);
  }

  private key(name: string): string {
    return `${this.ns}:${name}`;
  }

  /** Counts a start; returns the node's mode and whether tasks are fixed. */
  async begin(key: string): Promise<{ mode: NodeMode; fixed: boolean }> {
    const [mode, fixed] = (await this.redis.eval(BEGIN, 3, this.key('starts'), this.key('mode'), this.key('fixed'), key)) as [string, string];
    return { mode: parseMode(mode), fixed: fixed !== '' };
  }

  /** The idempotent effect: true when this call made it. */
  async commit(key: string): Promise<boolean> {
    return (await this.redis.eval(COMMIT, 3, this.key(`effect:${key}`), this.key('commits'), this.key('dupes'), key)) === 1;
  }

  /** The naive effect (no idempotency). */
  async naive(key: string): Promise<void> {
    await this.redis.hincrby(this.key('naive'), key, 1);
  }

  /** Writes node modes before a workflow starts (empty modes are skipped). */
  async setModes(modes: ReadonlyMap<string, string>): Promise<void> {
    const flat: string[] = [];
    for (const [key, mode] of modes) if (mode) flat.push(key, mode);
    if (flat.length > 0) await this.redis.hset(this.key('mode'), ...flat);
  }

  /** Sets or clears the "task fixed" flag (F10). */
  async setFixed(fixed: boolean): Promise<void> {
    if (fixed) await this.redis.set(this.key('fixed'), '1');
    else await this.redis.del(this.key('fixed'));
  }

  /** Reads the whole ledger. */
  async dump(): Promise<LedgerDump> {
    const read = async (name: string): Promise<Map<string, number>> => {
      const raw = await this.redis.hgetall(this.key(name));
      return new Map(Object.entries(raw).map(([k, v]) => [k, Number(v)]));
    };
    const [starts, commits, dupes, naive] = await Promise.all([read('starts'), read('commits'), read('dupes'), read('naive')]);
    return { starts, commits, dupes, naive };
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A small deterministic per-key pause (0-9 ms), so nodes overlap and kills land mid-task. */
function basePause(key: string): number {
  let h = 0;
  for (let i = 0; i < key.length; i++) h = (h * 31 + key.charCodeAt(i)) >>> 0;
  return h % 10;
}

/** The handler every fault task runs. */
export function faultHandler(ledger: Ledger) {
  return async (ctx: TaskContext, ...args: JsonValue[]): Promise<JsonValue> => {
    const key = ctx.idempotencyKey;
    const { mode, fixed } = await ledger.begin(key);
    const pause = basePause(key) + mode.slowMs;
    if (pause > 0) await sleep(pause);
    if (mode.doom && !fixed) throw new DoomError(`${key} is doomed`);
    if (mode.flaky && ctx.attempt === 1) throw new FlakyError(`${key} flakes on its first attempt`);
    await ledger.commit(key);
    await ledger.naive(key);
    if (ctx.taskName === 'f.fan') ctx.replace(fanCanvas(args[args.length - 1] ?? null));
    return faultValue(ctx.taskName, args);
  };
}

/** Registers every fault task on an app (handlers use `ledger`; the producer's are never called). */
export function registerFaultTasks(app: App, ledger: Ledger): void {
  const handler = faultHandler(ledger);
  for (const name of FAULT_TASKS) app.task(name, handler);
}
