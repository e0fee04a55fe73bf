/**
 * Opening ioredis connections for the broker: URL checks and the first connect turned into `ConfigError`
 * (a bad URL or an unreachable server is a configuration problem, reported once, not retried forever).
 * Credentials never reach an error message or a log line: only host, port and db (RELIABILITY S7).
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { ConfigError } from '../../core/errors.js';

/** How long the first connect may keep retrying before the server counts as unreachable. */
export const CONNECT_TIMEOUT_MS = 10_000;

/** Checks a `redis://` or `rediss://` URL; returns a redacted form for messages. */
export function checkRedisUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    throw new ConfigError('invalid Redis URL (expected redis://host:port/db or rediss://...)', { cause: error });
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new ConfigError(`invalid Redis URL scheme ${JSON.stringify(parsed.protocol)} (expected redis: or rediss:)`);
  }
  return `${parsed.protocol}//${parsed.hostname}:${parsed.port || '6379'}${parsed.pathname === '/' ? '' : parsed.pathname}`;
}

/**
 * Connects to `url` and checks the server answers PING; rejects with `ConfigError` (after closing the
 * connection, so no reconnect loop is left behind) when it cannot.
 */
export async function openConnection(url: string, options: RedisOptions, logger: Logger | undefined): Promise<Redis> {
  const where = checkRedisUrl(url);
  const redis = new Redis(url, { ...options, lazyConnect: true });
  let lastError: Error | undefined;
  redis.on('error', (error: Error) => {
    lastError = error;
    logger?.warn({ err: error, redis: where }, 'redis broker: connection error');
  });
  // A reset or refusal on the first try is not the answer: a worker booting while Redis restarts (or behind a
  // cut) would crash-loop. ioredis keeps reconnecting; PING resolves once it is through, within the bound.
  redis.connect().catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no PONG within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
  });
  try {
    await Promise.race([redis.ping(), late]);
    return redis;
  } catch (error) {
    redis.disconnect();
    throw new ConfigError(`cannot reach Redis at ${where}: ${(lastError ?? (error as Error)).message}`, { cause: lastError ?? error });
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Closes a connection politely (QUIT), or at once if that does not answer promptly. QUIT bypasses ioredis'
 * auto-pipeline: callers first await a pipelined command (PING) so nothing queued is cut off.
 */
export async function closeConnection(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  const timer = setTimeout(() => redis.disconnect(), 1_000);
  try {
    await redis.quit();
  } catch {
    redis.disconnect();
  } finally {
    clearTimeout(timer);
  }
}

