/**
 * Several commands of a client in one socket write (the Redis broker's hot commands, the Redis store's calls of
 * one tick: core/tick-batcher.ts), without an ioredis `Pipeline`: the commands are sent one by
 * one (each an ordinary ioredis command: queued while offline, re-sent after a reconnect) while the socket is
 * corked, and leave together when it is uncorked, before this returns.
 */
import type { Redis } from 'ioredis';

/**
 * Runs `send` (which sends commands on `redis`) with the connection's socket corked, so what it writes leaves
 * as one write. While the connection is not ready its commands wait in ioredis' offline queue instead.
 */
export function inOneWrite<T>(redis: Redis, send: () => T): T {
  const stream = redis.status === 'ready' ? redis.stream : undefined;
  if (stream === undefined || !stream.writable) return send();
  stream.cork();
  try {
    return send();
  } finally {
    stream.uncork();
  }
}
