/**
 * The Redis store's connection: ioredis settings chosen for RELIABILITY D1-D4, a connect bounded in time
 * (an unreachable server is a ConfigError, never a hang), the persistence check of D4, and log-safe server
 * descriptions (host, port and db only: never credentials, S7).
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { clearSocketTimeout } from '../../core/drop-connection.js';
import { ConfigError } from '../../core/errors.js';

/** Default bound on `connect()`. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/**
 * Default of how long a store connection with a command written waits for any reply before ioredis drops it and
 * reconnects (re-sending what was unanswered). Well above the longest script a store runs (a replay of 100,000
 * nodes, about 3 s; a staged create chunk or a cancel step, under 0.1 s) and a `CLIENT PAUSE`.
 */
export const DEFAULT_STORE_SOCKET_TIMEOUT_MS = 10_000;

/**
 * ioredis options of every store connection.
 *
 * - `maxRetriesPerRequest: null`: a command waits through reconnects and is re-sent once the link is back
 *   (`autoResendUnfulfilledCommands`), instead of failing after 20 reconnect attempts. D1/D2 say a command
 *   may run twice either way; every script is idempotent (a re-run answers `already`), so a re-send is a
 *   success, while a failure would only make the caller re-run the same script itself after reporting a
 *   spurious error, and would turn a Redis restart (F3) into failed commits. A store that never comes back is
 *   caught by the epoch check (StoreLostError) and by the runtime's own time bounds, not here.
 * - `enableReadyCheck`: after a restart Redis answers `LOADING` until its AOF is read (D4); commands wait.
 * - `socketTimeout`: a connection that has a command written and no reply for that long is dropped and
 *   reconnected, and the command re-sent (D1: scripts are idempotent). Found by the fault property test
 *   (seed 1906963265): a `CLIENT KILL` during a partition left every worker's store connection half-open once
 *   the partition healed (the server's end gone, the client's waiting for replies: RELIABILITY D3's class, on
 *   the store), so each worker's sweep waited forever on its first command and no lapsed lease came back; TCP
 *   keepalive takes minutes to notice. A slow reply past it costs a reconnect and a re-send, nothing else.
 * - `connectTimeout` and `keepAlive` detect dead sockets; `retryStrategy` backs off to 2 s.
 * - `lazyConnect`: `connect()` decides when, and bounds how long.
 * - no `enableAutoPipelining`: it held every command until `setImmediate` (0.2-0.4 ms per claim and commit on
 *   a busy worker). The scripts, which are most commands, are batched per tick instead (src/core/tick-batcher.ts: one
 *   write per tick, as auto-pipelining gave); the few other commands (reads, the sweep index) go out when
 *   issued, so an index write issued before a create still reaches Redis first.
 */
export function storeClientOptions(socketTimeoutMs = DEFAULT_STORE_SOCKET_TIMEOUT_MS): RedisOptions {
  return {
    lazyConnect: true,
    socketTimeout: socketTimeoutMs,
    enableAutoPipelining: false,
    maxRetriesPerRequest: null,
    autoResendUnfulfilledCommands: true,
    enableOfflineQueue: true,
    enableReadyCheck: true,
    connectTimeout: 5_000,
    keepAlive: 5_000,
    retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2_000),
  };
}

/** `host:port/db` of a Redis URL, for logs and errors (credentials stripped). */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '6379'}/${u.pathname.replace(/^\//, '') || '0'}`;
  } catch {
    return '(unparsable redis url)';
  }
}

/** Opens a connection and waits for `PONG`, or fails with ConfigError within `timeoutMs`. */
export async function openClient(url: string, timeoutMs: number, logger?: Logger, socketTimeoutMs?: number): Promise<Redis> {
  let client: Redis;
  try {
    client = new Redis(url, storeClientOptions(socketTimeoutMs));
    // A closed stream's socketTimeout timer must not outlive it and cut the next one (core/drop-connection.ts).
    client.on('close', () => clearSocketTimeout(client));
  } catch (error) {
    throw new ConfigError(`invalid redis store url (${describeUrl(url)})`, { cause: error });
  }
  let lastError: unknown;
  client.on('error', (error: Error) => {
    lastError = error;
    logger?.debug({ server: describeUrl(url), err: error.message }, 'redis store connection error');
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no PONG within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    // A reset or refusal on the first try is not the answer (a worker booting during a Redis restart or a cut
    // would crash-loop): ioredis keeps reconnecting and PING resolves once it is through, within the bound.
    client.connect().catch(() => undefined);
    await Promise.race([client.ping(), timeout]);
    return client;
  } catch (error) {
    client.disconnect();
    const why = lastError instanceof Error ? lastError.message : error instanceof Error ? error.message : String(error);
    throw new ConfigError(`redis store unreachable at ${describeUrl(url)}: ${why}`, { cause: lastError ?? error });
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Warns unless the server persists with AOF (`appendonly yes`) and never evicts (`maxmemory-policy
 * noeviction`): without them a restart or memory pressure silently loses workflow state (D4). A `CONFIG GET`
 * refused by an ACL is a warning too, never a failure (S8).
 */
export async function checkPersistence(client: Redis, logger?: Logger): Promise<void> {
  let appendonly: unknown;
  let policy: unknown;
  try {
    appendonly = ((await client.config('GET', 'appendonly')) as string[])[1];
    policy = ((await client.config('GET', 'maxmemory-policy')) as string[])[1];
  } catch (error) {
    logger?.warn({ err: error instanceof Error ? error.message : String(error) },
      'redis store: CONFIG GET refused; cannot check appendonly and maxmemory-policy (RELIABILITY D4)');
    return;
  }
  if (appendonly !== 'yes') {
    logger?.warn({ appendonly }, 'redis store: appendonly is not yes: a Redis restart loses workflow state (RELIABILITY D4)');
  }
  if (policy !== 'noeviction') {
    logger?.warn({ maxmemoryPolicy: policy }, 'redis store: maxmemory-policy is not noeviction: eviction silently loses workflow state');
  }
}

/** Most re-runs of one command that ioredis rejected with AbortError (see {@link retryAborted}). */
export const ABORT_RETRIES = 50;

/**
 * Runs a store command again when ioredis rejected it with `AbortError`: in a pipeline (src/core/tick-batcher.ts), the unanswered
 * rest of a pipeline is rejected when its connection closes instead of being re-sent, although Redis may have
 * run it (D2). Every script and every read is idempotent, so the answer is to run it again (RELIABILITY §1
 * rules): a script that ran answers `already`. A re-run sent while the link is down waits in the offline queue.
 */
export async function retryAborted<T>(op: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await op();
    } catch (error) {
      if (attempt >= ABORT_RETRIES || !(error instanceof Error) || error.name !== 'AbortError') throw error;
    }
  }
}

/** Closes a connection: QUIT when the server answers soon, else a hard disconnect. Never hangs. */
export async function closeClient(client: Redis, waitMs = 1_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const wait = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, waitMs);
  });
  await Promise.race([client.quit().then(() => undefined, () => undefined), wait]);
  clearTimeout(timer);
  client.disconnect(); // its 'close' clears a socketTimeout timer left armed (openClient)
}

/**
 * The replies of an executed MULTI or pipeline (ioredis `exec()`), in order; throws the first command's error, or
 * when the whole block was aborted (`null`).
 */
export function execResults(exec: Array<[Error | null, unknown]> | null): unknown[] {
  if (!exec) throw new Error('redis store: MULTI or pipeline aborted');
  return exec.map(([error, value]) => {
    if (error) throw error;
    return value;
  });
}
