/**
 * The sweep across workflows and the global index it walks. Per-workflow scripts touch one slot only (DESIGN
 * inv 8), so the index of running workflows (`${prefix}:active`, workflow id -> run generation) is written
 * by separate single-key commands: added before create and replay, removed once a workflow is seen settled
 * (compare-and-delete on the run generation, so a concurrent replay keeps it); the additions, and the
 * removals, of one tick go out as one command each. Each call visits at most
 * `limit` workflows, rotating through the index, and republishes about `limit` nodes at most.
 */
import type { Redis } from 'ioredis';
import { toErrorInfo, WorkerLostError } from '../../core/errors.js';
import type { SweepOptions, SweepResult } from '../store.js';
import { CODE, scriptError, sweepFrom, type Reply, type SweepOne } from './codes.js';
import { execResults, retryAborted } from './connection.js';
import { prebuiltOp } from './fcall-op.js';
import { isWorkflowId, type KeySpace } from './keys.js';
import type { Scripts } from './scripts.js';
import { prefixCrc, slotAfter } from './slot.js';
import { TickPairs } from './tick-pairs.js';

/** Workflows visited, and nodes republished, per sweep call when no `limit` is given. */
export const DEFAULT_SWEEP_LIMIT = 1_000;
/** A workflow missing from the store stays indexed this long (its create may be in flight). */
export const MISSING_GRACE_MS = 30_000;
/** Sweep calls in flight at once. */
const PARALLEL = 4;
/** Most workflows one `sweep_many` call looks at. */
export const SWEEP_GROUP = 256;
/** Longest wait of an index drop for a store call to ride with (ms). */
export const UNINDEX_LINGER_MS = 100;
const COUNT_MARK = 987654321;

/** WorkerLostError as Lua stores it: the ErrorInfo JSON with a mark where the redelivery count goes. */
export function lostErrorTemplate(): string {
  const { name, message } = toErrorInfo(new WorkerLostError(COUNT_MARK));
  return JSON.stringify({ name, message });
}

/** Runs sweeps for one store. */
export class Sweeper {
  /** CRC16 of the store's `prefix:` (slot.ts), for grouping ids by slot. */
  private readonly prefixCrc: number;
  private readonly missingSince = new Map<string, number>();
  /** WorkerLostError as the sweep and release scripts store it (release.lua takes it from here). */
  readonly lostError = lostErrorTemplate();
  /** `ZADD active GT run id ...`, its bytes written once (core/resp-command.ts), not by ioredis per argument. */
  private readonly indexes = new TickPairs((pairs) => this.scripts.command(prebuiltOp('zadd', ['ZADD', this.keys.active, 'GT'], pairs)));
  /** Drops linger until the next store call leaves (flushIndex) or {@link UNINDEX_LINGER_MS}: no write of their own. */
  private readonly unindexes = new TickPairs((pairs) => this.scripts.run('unindex', [this.keys.active], pairs), UNINDEX_LINGER_MS);

  constructor(
    private readonly client: Redis,
    private readonly keys: KeySpace,
    private readonly scripts: Scripts,
    /** ARGV[2..4] of every per-workflow script: history flag, retentionMs, events channel. */
    private readonly shared: readonly string[],
  ) {
    this.prefixCrc = prefixCrc(keys.prefix);
  }

  /** ARGV[1..4] of a per-workflow script. */
  private common(workflowId: string): string[] {
    return [workflowId, ...this.shared];
  }

  /**
   * Adds a workflow to the index for run generation `run` (never lowers it). The additions of one tick go as one
   * `ZADD GT` (a single-key command on the global key: fine on a cluster), sent before the tick's store calls.
   */
  index(workflowId: string, run: number): Promise<void> {
    return this.indexes.add(String(run), workflowId);
  }

  /**
   * Sends the index additions waiting for the end of this tick now (before a create that needs them first), and
   * the lingering drops with them: one write with the store call that follows.
   */
  flushIndex(): void {
    this.indexes.flush();
    this.unindexes.flush();
  }

  /**
   * Drops a workflow seen settled at run generation `run`, unless a later run re-indexed it. Drops wait for the
   * next store call (or {@link UNINDEX_LINGER_MS}) and go with it as one `unindex` call. A drop lost meanwhile (a
   * crash) costs nothing but a later sweep, which finds the workflow settled and drops it then.
   */
  unindex(workflowId: string, run: number): Promise<void> {
    return this.unindexes.add(workflowId, String(run));
  }

  /** {@link Sweeper.unindex}, marked handled: a sweep that fails before awaiting it leaves no unhandled rejection. */
  private dropLater(workflowId: string, run: number): Promise<void> {
    const drop = this.unindex(workflowId, run);
    drop.catch(() => undefined);
    return drop;
  }

  /**
   * One sweep call: the next `limit` workflows of the index from the cursor all stores of this prefix share
   * ({@link Sweeper.page}; with `everyMs`, a share of `limit`: {@link Sweeper.rankInPeriod}), swept by slot (`sweep_many`, up to {@link SWEEP_GROUP} workflows per call,
   * {@link PARALLEL} calls at a time), republishing about `limit` nodes at most.
   */
  async sweep(options: SweepOptions): Promise<SweepResult> {
    const asked = Math.max(1, Math.floor(options.limit ?? DEFAULT_SWEEP_LIMIT));
    const limit = options.everyMs === undefined ? asked : Math.ceil(asked / (await this.rankInPeriod(options.everyMs)));
    const out: SweepResult = { ready: [], redelivered: 0, lost: 0, settled: [] };
    const drops: Array<Promise<void>> = [];
    const groups = await this.slotGroups(await this.page(limit));
    for (let i = 0; i < groups.length; i += PARALLEL) {
      const left = limit - out.ready.length;
      if (left <= 0) break;
      const batch = groups.slice(i, i + PARALLEL);
      const budget = Math.max(1, Math.ceil(left / batch.length));
      await Promise.all(batch.map((ids) => this.sweepGroup(ids, options, budget, out, drops)));
    }
    this.unindexes.flush();
    await Promise.all(drops);
    return out;
  }

  /**
   * How many sweeps of this prefix (this one included) have begun in the current period of `everyMs` (by this
   * machine's clock): the k-th sweeper of a period looks at 1/k of its limit, so N workers that each sweep every
   * `everyMs` look at about limit × (1 + 1/2 + … + 1/N) ≈ limit × ln N workflows per period between them,
   * not N × limit, and the first of each period still at a whole page.
   */
  private async rankInPeriod(everyMs: number): Promise<number> {
    const period = Math.max(1, Math.floor(everyMs));
    const key = `${this.keys.sweepCursor}:${Math.floor(Date.now() / period)}`;
    const [rank] = await retryAborted(async () => execResults(await this.client.pipeline().incr(key).pexpire(key, 2 * period).exec()));
    return Math.max(1, Number(rank));
  }

  /**
   * The next `limit` workflow ids of the index (fewer when it holds fewer), from a cursor in Redis that every
   * store of this prefix advances (`INCRBY`): workers sweeping at once take turns through the index instead of
   * each going over the same first page. The cursor wraps at the index's size, so every workflow comes round.
   */
  private async page(limit: number): Promise<string[]> {
    const replies = await retryAborted(async () => execResults(await this.client.pipeline().incrby(this.keys.sweepCursor, limit).zcard(this.keys.active).exec()));
    const [end, size] = replies.map(Number) as [number, number];
    if (size === 0) return [];
    const from = (((end - limit) % size) + size) % size;
    const ids = await retryAborted(() => this.client.zrange(this.keys.active, from, from + limit - 1));
    const wrap = Math.min(from, limit - ids.length);
    if (wrap > 0) for (const id of await retryAborted(() => this.client.zrange(this.keys.active, 0, wrap - 1))) ids.push(id);
    return ids;
  }

  /**
   * The ids grouped by cluster slot, at most {@link SWEEP_GROUP} per group, in the order first seen. An id that is
   * not a valid workflow id (written by something else) is dropped from the index here.
   */
  private async slotGroups(ids: readonly string[]): Promise<string[][]> {
    const bySlot = new Map<number, string[]>();
    const groups: string[][] = [];
    const invalid: string[] = [];
    for (const id of ids) {
      if (!isWorkflowId(id)) {
        invalid.push(id);
        continue;
      }
      const slot = slotAfter(this.prefixCrc, id);
      let group = bySlot.get(slot);
      if (!group || group.length >= SWEEP_GROUP) {
        bySlot.set(slot, (group = []));
        groups.push(group);
      }
      group.push(id);
    }
    if (invalid.length > 0) await retryAborted(() => this.client.zrem(this.keys.active, ...invalid));
    return groups;
  }

  /**
   * Sweeps the workflows of one slot in one call (`sweep_many`; a lone one by `sweep`), each with `budget`;
   * the index drops they ask for go to `drops` (sent together at the end of the sweep).
   */
  private async sweepGroup(ids: readonly string[], options: SweepOptions, budget: number, out: SweepResult, drops: Array<Promise<void>>): Promise<void> {
    const { republishAfterMs, redeliveredRepublishAfterMs } = options;
    const params = [String(republishAfterMs), String(budget), this.lostError, redeliveredRepublishAfterMs === undefined ? '' : String(redeliveredRepublishAfterMs)];
    const keys = ids.map((id) => this.keys.wf(id));
    const replies: Array<Reply | number> = ids.length === 1
      ? [await this.scripts.run('sweep', keys, [...this.common(ids[0]!), ...params])]
      : ((await this.scripts.run('sweep_many', keys, [...this.shared, ...params, ...ids])) as unknown as Array<Reply | number>);
    if (!Array.isArray(replies) || replies.length !== ids.length) {
      throw new Error(`redis store: sweep_many answered ${Array.isArray(replies) ? replies.length : typeof replies} replies for ${ids.length} workflows`);
    }
    const errors: unknown[] = [];
    ids.forEach((id, i) => {
      const reply = replies[i]!;
      if (Array.isArray(reply) && reply[0] === CODE.ERROR) errors.push(scriptError(new Error(String(reply[1]))));
      else this.record(id, sweepFrom(reply, id), out, drops);
    });
    if (errors.length > 0) throw errors[0];
  }

  /** Takes in one workflow's sweep: what it found for `out`, the index drop or the missing grace it asks for. */
  private record(id: string, reply: SweepOne, out: SweepResult, drops: Array<Promise<void>>): void {
    if (reply.status === 'missing') {
      const first = this.missingSince.get(id);
      const now = performance.now();
      if (first === undefined) this.missingSince.set(id, now);
      else if (now - first >= MISSING_GRACE_MS) {
        this.missingSince.delete(id);
        const drop = retryAborted(() => this.client.zrem(this.keys.active, id)).then(() => undefined);
        drop.catch(() => undefined); // awaited with the other drops, unless the sweep fails first
        drops.push(drop);
      }
      return;
    }
    this.missingSince.delete(id);
    if (reply.status === 'not_running') {
      drops.push(this.dropLater(id, reply.run));
      return;
    }
    for (const message of reply.ready) out.ready.push(message);
    if (reply.lostNodes) for (const message of reply.lostNodes) (out.lostNodes ??= []).push(message);
    out.redelivered += reply.redelivered;
    out.lost += reply.lost;
    if (reply.settled) {
      out.settled.push({ workflowId: id, state: reply.settled });
      drops.push(this.dropLater(id, reply.run));
    }
  }
}
