/**
 * The Redis {@link Store} (Redis >= 7.0): every transition is one Lua script (./lua; all of them one function
 * library that ./scripts.ts loads with `FUNCTION LOAD`) that mirrors the pure step functions of
 * src/runtime/step/, touches only the keys of one workflow (hash tag `{prefix:workflowId}`, DESIGN inv 8), reads
 * the store's clock (`TIME`), and is safe to run twice (RELIABILITY D1, D2). The data model is described in
 * docs/redis-data-model.md.
 *
 * @example
 * const store = new RedisStore({ url: 'redis://127.0.0.1:6379', prefix: 'braid' });
 * await store.connect();
 * const { ready } = await store.create('order-42', graph);   // publish `ready`
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ErrorInfo } from '../../core/errors.js';
import type { WorkflowSnapshot } from '../../core/snapshot.js';
import type {
  CancelResult, ClaimRequest, ClaimResult, CommitRequest, CommitResult, ReadyNode, ReplayResult, Store, StoreEvent,
  StoredGraph, SweepResult, TransitionRecord, WorkflowOutcome,
} from '../store.js';
import { cancelFrom, claimFrom, commitFrom, createFrom, renewFrom, replayFrom, type Reply } from './codes.js';
import { checkPersistence, closeClient, DEFAULT_CONNECT_TIMEOUT_MS, openClient, retryAborted } from './connection.js';
import { createArgs, replaceArgs, rootMessages } from './encode.js';
import { EventFeed } from './events.js';
import { isWorkflowId, KeySpace } from './keys.js';
import type { WorkflowScript } from './library.js';
import { SlotMinter } from './mint.js';
import { readHistory, readOutcome, readSnapshot } from './reads.js';
import { Scripts } from './scripts.js';
import { Sweeper } from './sweeper.js';

/** Options of the Redis store. */
export interface RedisStoreOptions {
  /** `redis://[user:pass@]host:port/db` (or `rediss://`). */
  url: string;
  /** Namespace of every key and channel (two apps can share a server). */
  prefix: string;
  /** How long a settled workflow's keys are kept (PEXPIRE; default 7 days, DESIGN inv 9). */
  retentionMs?: number;
  /** Keep every applied transition per workflow (tests, RELIABILITY §3). */
  history?: boolean;
  logger?: Logger;
  /** Bound on `connect()` (default 10 s): past it the server counts as unreachable (ConfigError). */
  connectTimeoutMs?: number;
}

/** Default retention of settled workflows: 7 days. */
export const DEFAULT_REDIS_RETENTION_MS = 7 * 24 * 3600 * 1000;

interface Connected { client: Redis; scripts: Scripts; feed: EventFeed; sweeper: Sweeper }

interface GroupEntry { args: string[]; resolve: (reply: Reply) => void; reject: (error: unknown) => void }

/** The Redis-backed {@link Store}. */
export class RedisStore implements Store {
  readonly kind = 'redis';
  /** Key names of this store. */
  readonly keys: KeySpace;
  private readonly retentionMs: number;
  private readonly minter: SlotMinter;
  private conn: Connected | undefined;
  /** Claims and completes of this tick, per script and workflow (grouped()). */
  private readonly groups = new Map<string, { name: 'claim' | 'complete'; workflowId: string; entries: GroupEntry[] }>();

  constructor(private readonly options: RedisStoreOptions) {
    this.keys = new KeySpace(options.prefix);
    this.minter = new SlotMinter(options.prefix);
    this.retentionMs = options.retentionMs ?? DEFAULT_REDIS_RETENTION_MS;
    if (!Number.isSafeInteger(this.retentionMs) || this.retentionMs <= 0) throw new RangeError('retentionMs must be a positive integer');
  }

  async connect(): Promise<void> {
    if (this.conn) return;
    const { url, logger } = this.options;
    const client = await openClient(url, this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, logger);
    const scripts = new Scripts(client);
    try {
      await scripts.load();
    } catch (error) {
      await closeClient(client);
      throw error;
    }
    await checkPersistence(client, logger);
    await client.set(this.keys.epoch, randomUUID(), 'NX');
    const common = (id: string): string[] => this.common(id);
    this.conn = { client, scripts, feed: new EventFeed(client, this.keys.events, logger), sweeper: new Sweeper(client, this.keys, scripts, common) };
  }

  /**
   * A fresh workflow id (96 random bits) whose keys share a cluster slot with the other ids minted in this tick
   * (up to 256 per slot), so their creates, claims and completes go out as one call (mint.ts).
   */
  mintWorkflowId(): string {
    return this.minter.mint();
  }

  async create(workflowId: string, graph: StoredGraph): Promise<{ created: boolean; ready: ReadyNode[] }> {
    const keys = this.keys.workflow(workflowId);
    // Sent before create on the same connection, so Redis applies it first; one round trip for both.
    const [, reply] = await Promise.all([
      this.c.sweeper.index(workflowId, 0),
      this.c.scripts.run('create', keys, [...this.common(workflowId), ...createArgs(graph)]),
    ]);
    const { created, settled } = createFrom(reply);
    if (!created) return { created: false, ready: [] };
    if (settled) this.unindexLater(workflowId, 0);
    return { created: true, ready: rootMessages(workflowId, graph) };
  }

  async claim(r: ClaimRequest): Promise<ClaimResult> {
    if (!isWorkflowId(r.workflowId)) return { status: 'orphan' };
    return claimFrom(await this.grouped('claim', r.workflowId, [r.nodeId, String(r.attempt), r.task, r.token, String(r.leaseMs)]));
  }

  async renew(r: CommitRequest & { leaseMs: number }): Promise<'ok' | 'lost' | 'canceled'> {
    if (!isWorkflowId(r.workflowId)) return 'lost';
    return renewFrom(await this.run('renew', r.workflowId, [r.nodeId, r.token, String(r.leaseMs)]));
  }

  async complete(r: CommitRequest & { result: string; ignoreResult: boolean }): Promise<CommitResult> {
    if (!isWorkflowId(r.workflowId)) return { status: 'orphan', ready: [] };
    const reply = await this.grouped('complete', r.workflowId, [r.nodeId, r.token, r.result, r.ignoreResult ? '1' : '0']);
    return this.committed(r.workflowId, reply);
  }

  async fail(r: CommitRequest & { error: ErrorInfo }): Promise<CommitResult> {
    return this.commit('fail', r, [JSON.stringify(r.error)]);
  }

  async retry(r: CommitRequest & { error: ErrorInfo; delayMs: number }): Promise<CommitResult> {
    return this.commit('retry', r, [JSON.stringify(r.error), String(r.delayMs)]);
  }

  async replace(r: CommitRequest & { graph: StoredGraph }): Promise<CommitResult> {
    return this.commit('replace', r, replaceArgs(r.graph, r.nodeId));
  }

  async cancel(workflowId: string): Promise<CancelResult> {
    if (!isWorkflowId(workflowId)) return { status: 'missing' };
    const { run, ...result } = cancelFrom(await this.run('cancel', workflowId, []));
    if (result.status === 'ok') this.unindexLater(workflowId, run);
    return result;
  }

  async replay(workflowId: string, nodeIds?: readonly string[]): Promise<ReplayResult> {
    if (!isWorkflowId(workflowId)) return { status: 'missing' };
    const { client } = this.c;
    const run = Number((await retryAborted(() => client.hget(this.keys.key(workflowId, 'wf'), 'run'))) ?? 0);
    await this.c.sweeper.index(workflowId, run + 1);
    const args = nodeIds ? ['1', ...nodeIds] : ['0'];
    const { run: newRun, ...result } = replayFrom(await this.run('replay', workflowId, args), workflowId);
    if (result.status === 'ok' && result.settled && newRun !== undefined) this.unindexLater(workflowId, newRun);
    return result;
  }

  async snapshot(workflowId: string): Promise<WorkflowSnapshot | null> {
    const { client } = this.c;
    return isWorkflowId(workflowId) ? retryAborted(() => readSnapshot(client, this.keys, workflowId)) : null;
  }

  async outcome(workflowId: string): Promise<WorkflowOutcome | null> {
    const { client } = this.c;
    return isWorkflowId(workflowId) ? retryAborted(() => readOutcome(client, this.keys, workflowId)) : null;
  }

  async sweep(options: { republishAfterMs: number; limit?: number }): Promise<SweepResult> {
    return this.c.sweeper.sweep(options);
  }

  async subscribe(listener: (event: StoreEvent) => void): Promise<() => void> {
    return this.c.feed.add(listener);
  }

  async epoch(): Promise<string | null> {
    return this.c.scripts.command<string | null>((on) => on.get(this.keys.epoch));
  }

  async history(workflowId: string): Promise<TransitionRecord[]> {
    const { client } = this.c;
    return isWorkflowId(workflowId) ? retryAborted(() => readHistory(client, this.keys, workflowId)) : [];
  }

  async close(): Promise<void> {
    const conn = this.conn;
    this.conn = undefined;
    if (!conn) return;
    await conn.feed.close();
    await closeClient(conn.client);
  }

  private get c(): Connected {
    if (!this.conn) throw new Error('redis store: connect() first');
    return this.conn;
  }

  /** ARGV[1..4] of every per-workflow script. */
  private common(workflowId: string): string[] {
    return [workflowId, this.options.history ? '1' : '0', String(this.retentionMs), this.keys.events];
  }

  private run(name: WorkflowScript, workflowId: string, args: string[]): Promise<Reply> {
    return this.c.scripts.run(name, this.keys.workflow(workflowId), [...this.common(workflowId), ...args]);
  }

  private async commit(name: WorkflowScript, r: CommitRequest, args: string[]): Promise<CommitResult> {
    if (!isWorkflowId(r.workflowId)) return { status: 'orphan', ready: [] };
    return this.committed(r.workflowId, await this.run(name, r.workflowId, [r.nodeId, r.token, ...args]));
  }

  private committed(workflowId: string, reply: Reply): CommitResult {
    const { run, ...result } = commitFrom(reply, workflowId);
    if (result.settled) this.unindexLater(workflowId, run);
    return result;
  }

  /**
   * Runs a claim or a complete together with the others of the same workflow made in this tick: one alone as
   * its script, several as one `claim_many` / `complete_many` call (entries in call order), each caller getting
   * its own entry's reply. Sent at the end of the tick, with the tick's other calls (src/core/tick-batcher.ts).
   */
  private grouped(name: 'claim' | 'complete', workflowId: string, entry: string[]): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => {
      if (this.groups.size === 0) process.nextTick(() => this.sendGroups());
      const key = `${name} ${workflowId}`;
      let group = this.groups.get(key);
      if (!group) this.groups.set(key, (group = { name, workflowId, entries: [] }));
      group.entries.push({ args: entry, resolve, reject });
    });
  }

  /**
   * Sends this tick's groups. Every entry's promise settles on every path: the call's reply, its error (after
   * the retries of scripts.ts: AbortError, a lost library; a batch is as safe to run twice as a single call),
   * a synchronous throw (a store closed meanwhile), or a batch reply that is not one reply per entry.
   */
  private sendGroups(): void {
    const groups = [...this.groups.values()];
    this.groups.clear();
    for (const { name, workflowId, entries } of groups) {
      const rejectAll = (error: unknown): void => entries.forEach((e) => e.reject(error));
      try {
        if (entries.length === 1) {
          const [one] = entries as [GroupEntry];
          this.run(name, workflowId, one.args).then(one.resolve, one.reject);
          continue;
        }
        this.run(`${name}_many`, workflowId, entries.flatMap((e) => e.args)).then((replies: unknown) => {
          if (!Array.isArray(replies) || replies.length !== entries.length) {
            rejectAll(new Error(`redis store: ${name}_many answered ${Array.isArray(replies) ? replies.length : typeof replies} replies for ${entries.length} entries`));
            return;
          }
          entries.forEach((e, i) => e.resolve(replies[i] as Reply));
        }, rejectAll);
      } catch (error) {
        rejectAll(error);
      }
    }
  }


  /**
   * Drops a settled workflow from the sweep index without holding up the caller: the commit is already
   * stored, and if this write is lost the next sweep finds the workflow settled and unindexes it then.
   */
  private unindexLater(workflowId: string, run: number): void {
    this.conn?.sweeper.unindex(workflowId, run).catch((error: unknown) => {
      this.options.logger?.debug({ err: error, workflowId }, 'unindex failed; the sweep will retry it');
    });
  }
}
