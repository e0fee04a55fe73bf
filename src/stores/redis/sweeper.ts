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
import type { SweepResult } from '../store.js';
import { sweepFrom } from './codes.js';
import { retryAborted } from './connection.js';
import { prebuiltOp } from './fcall-op.js';
import type { KeySpace } from './keys.js';
import type { Scripts } from './scripts.js';
import { TickPairs } from './tick-pairs.js';

/** Workflows visited, and nodes republished, per sweep call when no `limit` is given. */
export const DEFAULT_SWEEP_LIMIT = 1_000;
/** A workflow missing from the store stays indexed this long (its create may be in flight). */
export const MISSING_GRACE_MS = 30_000;
const PARALLEL = 16;
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
  private cursor = 0;
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
    private readonly common: (workflowId: string) => string[],
  ) {}

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

  /** One sweep call. */
  async sweep(options: { republishAfterMs: number; limit?: number }): Promise<SweepResult> {
    const limit = Math.max(1, Math.floor(options.limit ?? DEFAULT_SWEEP_LIMIT));
    const out: SweepResult = { ready: [], redelivered: 0, lost: 0, settled: [] };
    const drops: Array<Promise<void>> = [];
    const page = (from: number): Promise<string[]> => retryAborted(() => this.client.zrange(this.keys.active, from, from + limit - 1));
    let ids = await page(this.cursor);
    if (ids.length === 0 && this.cursor > 0) ids = await page(0);
    this.cursor = ids.length < limit ? 0 : this.cursor + ids.length;
    for (let i = 0; i < ids.length; i += PARALLEL) {
      const left = limit - out.ready.length;
      if (left <= 0) break;
      const batch = ids.slice(i, i + PARALLEL);
      const budget = Math.max(1, Math.ceil(left / batch.length));
      await Promise.all(batch.map((id) => this.sweepOne(id, options.republishAfterMs, budget, out, drops)));
    }
    this.unindexes.flush();
    await Promise.all(drops);
    return out;
  }

  /** Sweeps one workflow; the index drops it asks for go to `drops` (sent together at the end of the sweep). */
  private async sweepOne(id: string, republishAfterMs: number, budget: number, out: SweepResult, drops: Array<Promise<void>>): Promise<void> {
    let keys: string[];
    try {
      keys = [this.keys.wf(id)];
    } catch {
      await retryAborted(() => this.client.zrem(this.keys.active, id));
      return;
    }
    const reply = sweepFrom(await this.scripts.run('sweep', keys, [...this.common(id), String(republishAfterMs), String(budget), this.lostError]), id);
    if (reply.status === 'missing') {
      const first = this.missingSince.get(id);
      const now = performance.now();
      if (first === undefined) this.missingSince.set(id, now);
      else if (now - first >= MISSING_GRACE_MS) {
        this.missingSince.delete(id);
        await retryAborted(() => this.client.zrem(this.keys.active, id));
      }
      return;
    }
    this.missingSince.delete(id);
    if (reply.status === 'not_running') {
      drops.push(this.dropLater(id, reply.run));
      return;
    }
    out.ready.push(...reply.ready);
    out.redelivered += reply.redelivered;
    out.lost += reply.lost;
    if (reply.settled) {
      out.settled.push({ workflowId: id, state: reply.settled });
      drops.push(this.dropLater(id, reply.run));
    }
  }
}
