/**
 * ioredis' `socketTimeout` timer, which version 5.11.1 leaves armed when a stream closes: dropping a connection
 * at once with it (the Redis broker's blocking connection), and clearing it when a stream closed (the Redis
 * store's connections).
 */
import type { Redis } from 'ioredis';

/**
 * Drops a connection at once (no QUIT): one that may have a blocking command in flight. ioredis (5.11.1 here)
 * arms its `socketTimeout` timer per command and clears it only when a reply arrives (redis/ioredis#2147, fixed
 * upstream by #2148), so a connection dropped during a BZPOPMIN would keep a ref'd timer for `blockMs + 2 s`,
 * and a process that closed its app could not exit until then (API.md: `app.close()` releases every timer).
 * The timer only guards the stream being dropped, so clearing it loses nothing.
 */
export function dropConnection(redis: Redis): void {
  redis.disconnect();
  clearSocketTimeout(redis);
}

/**
 * Clears ioredis' `socketTimeout` timer of a connection whose stream has closed. Left armed (ioredis#2147), it
 * fires up to `socketTimeout` later and destroys whatever stream the client has by then: the healthy one it
 * reconnected with. On a store connection that is a needless reconnect; on a subscriber, the events published
 * while it is down are lost.
 */
export function clearSocketTimeout(redis: Redis): void {
  const holder = redis as unknown as { socketTimeoutTimer?: NodeJS.Timeout };
  if (holder.socketTimeoutTimer === undefined) return;
  clearTimeout(holder.socketTimeoutTimer);
  holder.socketTimeoutTimer = undefined;
}
