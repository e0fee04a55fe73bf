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
import { ConfigError, type ErrorInfo } from '../../core/errors.js';
import type { WorkflowSnapshot } from '../../core/snapshot.js';
import type {
  CancelResult, ClaimRequest, ClaimResult, CommitRequest, CommitResult, CompleteRequest, ContinueRequest, ReadyNode, ReplayResult, Store, StoreEvent,
  StoredGraph, SweepOptions, SweepResult, TransitionRecord, WorkflowOutcome,
} from '../store.js';
import { cancelFrom, claimFrom, commitFrom, completeFrom, createFrom, renewFrom, replayFrom, type Reply } from './codes.js';
import { checkPersistence, closeClient, DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_STORE_SOCKET_TIMEOUT_MS, openClient, retryAborted } from './connection.js';
import { createArgs, createRows, type NodeRows, replaceArgs } from './encode.js';
import { rootMessages } from '../../runtime/step/create.js';
import { EventFeed } from './events.js';
import { isWorkflowId, KeySpace } from './keys.js';
import { DEFAULT_CANCEL_CHUNK_NODES, type WorkflowScript } from './library.js';
import { SlotMinter } from './mint.js';
import { readHistory, readOutcome, readSnapshot } from './reads.js';
import { Scripts } from './scripts.js';
import { SlotBatcher } from './slot-batches.js';
import { prebuiltOp } from './fcall-op.js';
import type { QueuePush } from '../../core/queue-push.js';
import { Sweeper } from './sweeper.js';
import type { WriteCarrier } from '../../core/write-carrier.js';

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
  /**
   * How long a connection with a command written waits for any reply before it is dropped, reconnected and the
   * command re-sent (default {@link DEFAULT_STORE_SOCKET_TIMEOUT_MS}: connection.ts storeClientOptions).
   */
  socketTimeoutMs?: number;
  /**
   * A graph of more nodes than this is created in chunks of this many (default {@link DEFAULT_CREATE_CHUNK_NODES}):
   * each but the last is staged ahead (lua/stage.lua), and the create moves them into place with the last one.
   */
  createChunkNodes?: number;
  /**
   * A cancel moves at most this many nodes per call (default {@link DEFAULT_CANCEL_CHUNK_NODES}): the workflow is
   * canceled in the first, the rest of its open nodes in as many more as it takes (lua/advance.lua cancelNodes).
   */
  cancelChunkNodes?: number;
}

/** Default of {@link RedisStoreOptions.createChunkNodes}. */
export const DEFAULT_CREATE_CHUNK_NODES = 2_000;

/** Default retention of settled workflows: 7 days. */
export const DEFAULT_REDIS_RETENTION_MS = 7 * 24 * 3600 * 1000;

interface Connected { client: Redis; scripts: Scripts; feed: EventFeed; sweeper: Sweeper; batches: SlotBatcher }

/** The Redis-backed {@link Store}. */
export class RedisStore implements Store {
  readonly kind = 'redis';
  /** The server this store writes to (Store.serverUrl). */
  readonly serverUrl: string;
  /** Key names of this store. */
  readonly keys: KeySpace;
  private readonly retentionMs: number;
  private readonly minter: SlotMinter;
  private conn: Connected | undefined;
  /** The ride of a broker on this server that this store's claims join (rideWith). */
  private carrier: WriteCarrier | undefined;
  /** ARGV[2..4] of every per-workflow script: history flag, retentionMs, events channel. */
  private readonly shared: readonly string[];
  private readonly createChunkNodes: number;
  private readonly cancelChunkNodes: number;

  constructor(private readonly options: RedisStoreOptions) {
    this.serverUrl = options.url;
    this.keys = new KeySpace(options.prefix);
    this.minter = new SlotMinter(options.prefix);
    this.retentionMs = options.retentionMs ?? DEFAULT_REDIS_RETENTION_MS;
    if (!Number.isSafeInteger(this.retentionMs) || this.retentionMs <= 0) throw new ConfigError('redis store: retentionMs must be a positive integer');
    this.createChunkNodes = options.createChunkNodes ?? DEFAULT_CREATE_CHUNK_NODES;
    if (!Number.isSafeInteger(this.createChunkNodes) || this.createChunkNodes < 1) throw new ConfigError('redis store: createChunkNodes must be a positive integer');
    this.cancelChunkNodes = options.cancelChunkNodes ?? DEFAULT_CANCEL_CHUNK_NODES;
    if (!Number.isSafeInteger(this.cancelChunkNodes) || this.cancelChunkNodes < 1) throw new ConfigError('redis store: cancelChunkNodes must be a positive integer');
    this.shared = [options.history ? '1' : '0', String(this.retentionMs), this.keys.events];
  }

  async connect(): Promise<void> {
    if (this.conn) return;
    const { url, logger } = this.options;
    const client = await openClient(url, this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, logger, this.options.socketTimeoutMs);
    const scripts = new Scripts(client);
    try {
      await scripts.load();
    } catch (error) {
      await closeClient(client);
      throw error;
    }
    await checkPersistence(client, logger);
    await client.set(this.keys.epoch, randomUUID(), 'NX');
    const sweeper = new Sweeper(client, this.keys, scripts, this.shared);
    const batches = new SlotBatcher({
      prefix: this.keys.prefix, shared: this.shared, wfKey: (id) => this.keys.wfOfChecked(id), // every entry's id is checked before it is added
      run: (name, keys, args, link) => (link ? scripts.runOn(link, name, keys, args) : scripts.run(name, keys, args)),
      ride: (rider) => this.carrier?.ride(rider) ?? false,
      beforeSend: () => sweeper.flushIndex(),
      push: (pushes) => this.push(pushes),
      sendNow: () => scripts.sendNow(),
    });
    this.conn = { client, scripts, feed: new EventFeed(client, this.keys.events, logger), sweeper, batches };
  }

  /**
   * A fresh workflow id (96 random bits) whose keys share a cluster slot with the other ids minted in this tick
   * (up to 256 per slot), so their creates, claims and completes go out as one call (mint.ts).
   */
  mintWorkflowId(): string {
    return this.minter.mint();
  }

  async create(workflowId: string, graph: StoredGraph): Promise<{ created: boolean; ready: ReadyNode[] }> {
    const { created } = await this.createAndSend(workflowId, graph, []);
    return { created, ready: created ? rootMessages(workflowId, graph) : [] };
  }

  /**
   * `create`, then `pushes` (a Redis broker's publishes of the roots, on this server) right behind it on this
   * connection, in the same write: Redis runs them after the create, so no message can be taken before its
   * workflow exists, and start costs one round trip instead of two. The pushes of the creates batched in one
   * call go together, one `RPUSH` per list and one `ZADD` per marker. A graph of more than
   * {@link RedisStoreOptions.createChunkNodes} nodes goes ahead in chunks ({@link RedisStore.stage}) and the
   * create moves them into place.
   */
  async createAndSend(workflowId: string, graph: StoredGraph, pushes: readonly QueuePush[]): Promise<{ created: boolean }> {
    this.keys.wf(workflowId); // an invalid id throws CanvasError before anything is sent
    const fresh = this.minter.fresh(workflowId) ? '1' : '0';
    const staging = graph.nodes.length > this.createChunkNodes ? await this.stage(workflowId, graph) : undefined;
    // Returned, not awaited: this frame ends here, so neither it nor the one that waits for the reply keeps the
    // graph, its rows or the pushes alive through the round trip (a suspended async frame keeps every local).
    return this.sendCreate(
      workflowId,
      staging ? createArgs(graph, [`${fresh} ${staging.id} ${staging.nodes}`], staging.rows, staging.nodes) : createArgs(graph, [fresh]),
      pushes,
      staging?.chunks,
    );
  }

  /**
   * Queues the create's call (and its pushes) for this tick and hands the reply to {@link createReply}. The index
   * write leaves before the create on the same connection (SlotBatcher beforeSend), so Redis applies it first;
   * one round trip for both. Creates of one slot in this tick go as one call.
   */
  private sendCreate(workflowId: string, args: string[], pushes: readonly QueuePush[], chunks: Array<Promise<Reply>> | undefined): Promise<{ created: boolean }> {
    const sent: { pushed?: Promise<unknown> } = {};
    const replies = Promise.all([
      this.c.sweeper.index(workflowId, 0),
      this.c.batches.add('create', workflowId, args, pushes.length === 0 ? undefined : { list: pushes, sent: (outcome) => (sent.pushed = outcome) }),
    ]);
    return this.createReply(workflowId, replies, sent, chunks);
  }

  private async createReply(
    workflowId: string, replies: Promise<[unknown, Reply]>, sent: { pushed?: Promise<unknown> }, chunks: Array<Promise<Reply>> | undefined,
  ): Promise<{ created: boolean }> {
    const [, reply] = await replies.catch(async (error: unknown) => {
      // A chunk that failed makes the create fail as incomplete: its own error says why.
      const failed = chunks && (await Promise.allSettled(chunks)).find((r) => r.status === 'rejected');
      throw failed ? (failed as PromiseRejectedResult).reason : error;
    });
    await sent.pushed;
    const { created, settled } = createFrom(reply);
    if (settled) this.unindexLater(workflowId, 0);
    return { created };
  }

  /**
   * Sends all but the last {@link RedisStoreOptions.createChunkNodes} nodes of a large graph ahead of its create,
   * one stage.lua call per chunk, each on its own turn: Redis runs a chunk while the next one is encoded, and
   * other clients' commands run between chunks instead of waiting out one long create. Nothing is visible
   * until the create moves the staged rows into place (create.lua), or at all if it never comes (they expire).
   */
  private async stage(workflowId: string, graph: StoredGraph): Promise<{ id: string; nodes: number; rows: NodeRows; chunks: Array<Promise<Reply>> }> {
    const id = randomUUID();
    const rows = createRows(graph);
    const chunks: Array<Promise<Reply>> = [];
    let nodes = 0;
    for (let index = 0; graph.nodes.length - nodes > this.createChunkNodes; index++) {
      const size = this.createChunkNodes;
      const args = [id, String(index), String(size)];
      rows.write(args, nodes, nodes + size);
      const sent = this.run('stage', workflowId, args);
      sent.catch(() => undefined); // awaited through the create (createAndSend)
      chunks.push(sent);
      nodes += size;
      // Let this chunk leave (scripts are sent at the end of the tick) before encoding the next, and keep at
      // most two in flight: Redis always has the next chunk, and never a backlog that holds other clients up
      // (a 100,000-node create: longest PING meanwhile 563 ms with every chunk sent at once).
      const before = chunks[chunks.length - 2];
      if (before) await before.catch(() => undefined);
      else await new Promise((resolve) => setImmediate(resolve));
    }
    return { id, nodes, rows, chunks };
  }

  /** Broker pushes in this tick's write: one `RPUSH` per list (entries in order), then one `ZADD` per marker. */
  private push(pushes: readonly QueuePush[]): Promise<unknown> {
    const lists = new Map<string, Buffer[]>();
    const markers = new Set<string>();
    for (const { list, marker, entry } of pushes) {
      let entries = lists.get(list);
      if (!entries) lists.set(list, (entries = []));
      entries.push(entry);
      markers.add(marker);
    }
    const sent: Array<Promise<unknown>> = [];
    for (const [list, entries] of lists) sent.push(this.c.scripts.command(prebuiltOp('rpush', ['RPUSH', list], entries)));
    for (const marker of markers) sent.push(this.c.scripts.command(prebuiltOp('zadd', ['ZADD', marker, 0, 'm'])));
    return Promise.all(sent);
  }

  /**
   * Lets this store's claims ride in the block a broker consumer on this server is about to write, right after
   * handing out their deliveries (core/write-carrier.ts): one socket write for both.
   */
  rideWith(carrier: WriteCarrier): void {
    if (this.carrier === carrier) return;
    this.carrier = carrier;
    carrier.join();
  }

  async claim(r: ClaimRequest): Promise<ClaimResult> {
    if (!isWorkflowId(r.workflowId)) return { status: 'orphan' };
    // Claimed means the stored node's task and attempt are the ones asked for (else `forged`, `stale`): the stored
    // spec leaves the task out, a compact claim's reply the attempt.
    return claimFrom(await this.c.batches.add('claim', r.workflowId, [r.nodeId, String(r.attempt), r.task, r.token, String(r.leaseMs)]), r.task, r.attempt);
  }

  async renew(r: CommitRequest & { leaseMs: number }): Promise<'ok' | 'lost' | 'canceled'> {
    if (!isWorkflowId(r.workflowId)) return 'lost';
    return renewFrom(await this.run('renew', r.workflowId, [r.nodeId, r.token, String(r.leaseMs)]));
  }

  async complete(r: CompleteRequest): Promise<CommitResult> {
    if (!isWorkflowId(r.workflowId)) return { status: 'orphan', ready: [] };
    const next = r.next;
    const reply = await this.c.batches.add('complete', r.workflowId, [
      r.nodeId, r.token, r.result, r.ignoreResult ? '1' : '0',
      next?.token ?? '', next ? String(next.leaseMs) : '', next ? queueList(next.queues) : '',
    ]);
    return this.committed(r.workflowId, completeFrom(reply, r.workflowId));
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

  async release(r: CommitRequest): Promise<CommitResult> {
    return this.commit('release', r, [this.c.sweeper.lostError]);
  }

  /**
   * Cancels in steps of {@link RedisStoreOptions.cancelChunkNodes} nodes: the first call cancels the workflow (claims
   * refused, running nodes fenced off, the events sent), the next ones move what is left of its open nodes.
   * One left half done (this process died) is finished by the next cancel call, or the sweep.
   */
  async cancel(workflowId: string): Promise<CancelResult> {
    if (!isWorkflowId(workflowId)) return { status: 'missing' };
    const args = [String(this.cancelChunkNodes)];
    const { run, more, ...result } = cancelFrom(await this.run('cancel', workflowId, args));
    let step = { run, more };
    while (step.more) step = cancelFrom(await this.run('cancel', workflowId, args));
    if (result.status === 'ok' || more) this.unindexLater(workflowId, step.run);
    return result;
  }

  async replay(workflowId: string, nodeIds?: readonly string[]): Promise<ReplayResult> {
    if (!isWorkflowId(workflowId)) return { status: 'missing' };
    const { client } = this.c;
    const run = Number((await retryAborted(() => client.hget(this.keys.key(workflowId, 'wf'), 'run'))) ?? 0);
    await this.c.sweeper.index(workflowId, run + 1);
    // A request id of its own, so that the same call sent again (a reconnect, a retried abort) is recognised.
    const args = nodeIds ? [randomUUID(), '1', ...nodeIds] : [randomUUID(), '0'];
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

  async sweep(options: SweepOptions): Promise<SweepResult> {
    return this.c.sweeper.sweep(options);
  }

  async subscribe(listener: (event: StoreEvent) => void, types?: ReadonlyArray<StoreEvent['type']>): Promise<() => void> {
    return this.c.feed.add(listener, types);
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
    conn.sweeper.flushIndex(); // index drops still lingering leave before QUIT
    await conn.feed.close();
    await closeClient(conn.client);
  }

  private get c(): Connected {
    if (!this.conn) throw new Error('redis store: connect() first');
    return this.conn;
  }

  /** ARGV[1..4] of every per-workflow script. */
  private common(workflowId: string): string[] {
    return [workflowId, ...this.shared];
  }

  private run(name: WorkflowScript, workflowId: string, args: string[]): Promise<Reply> {
    return this.c.scripts.run(name, [this.keys.wf(workflowId)], [...this.common(workflowId), ...args]);
  }

  private async commit(name: WorkflowScript, r: CommitRequest, args: string[]): Promise<CommitResult> {
    if (!isWorkflowId(r.workflowId)) return { status: 'orphan', ready: [] };
    return this.committed(r.workflowId, commitFrom(await this.run(name, r.workflowId, [r.nodeId, r.token, ...args]), r.workflowId));
  }

  /** A commit's result, once its settle (if any) has its index drop queued. */
  private committed(workflowId: string, parsed: CommitResult & { run: number }): CommitResult {
    const { run, ...result } = parsed;
    if (result.settled) this.unindexLater(workflowId, run);
    return result;
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

/** A worker's queues as complete.lua reads them: each between spaces (queue names have none), or `*`. */
const queueLists = new WeakMap<readonly string[], string>();
function queueList(queues: ContinueRequest['queues']): string {
  if (queues === '*') return '*';
  let text = queueLists.get(queues);
  if (text === undefined) queueLists.set(queues, (text = ` ${queues.join(' ')} `));
  return text;
}
