/**
 * Key layout of the Redis broker. Every key of one queue sits under `${prefix}:q:{<queue>}:` so a queue's keys
 * share one hash tag (one cluster slot) and every script touches one slot (DESIGN inv 8, RELIABILITY D12).
 * Braces and `%` in queue names are percent-encoded so a name can never move the tag.
 *
 * | key | type | holds |
 * |---|---|---|
 * | `…:p0` … `…:p9` | list | ready entries of each priority, oldest at the head |
 * | `…:inflight` | sorted set | entries handed out, scored by lease deadline (ms, Redis clock); 0 = given back |
 * | `…:delayed` | sorted set | entries not yet due, scored by due time (ms, Redis clock) |
 * | `…:marker` | sorted set | one member `m` while there may be work: what idle consumers block on (BZPOPMIN) |
 * | `…:dead` | list | dead letters as JSON, newest first, capped |
 */

/** Number of priority levels (0-9). */
export const PRIORITY_LEVELS = 10;

/** The keys of one queue. */
export interface QueueKeys {
  /** Ready lists by priority: `lists[p]` holds priority `p`. */
  readonly lists: readonly string[];
  readonly inflight: string;
  readonly delayed: string;
  readonly marker: string;
  readonly dead: string;
}

/** Percent-encodes the characters that would break a hash tag. */
export function encodeQueueName(queue: string): string {
  return queue.replace(/[%{}]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Keys of `queue` under `prefix`. */
export function queueKeys(prefix: string, queue: string): QueueKeys {
  const base = `${prefix}:q:{${encodeQueueName(queue)}}`;
  return {
    lists: Array.from({ length: PRIORITY_LEVELS }, (_, p) => `${base}:p${p}`),
    inflight: `${base}:inflight`,
    delayed: `${base}:delayed`,
    marker: `${base}:marker`,
    dead: `${base}:dead`,
  };
}

/** Every key of `queue` (for DEL). */
export function allQueueKeys(keys: QueueKeys): string[] {
  return [...keys.lists, keys.inflight, keys.delayed, keys.marker, keys.dead];
}

/** SCAN pattern matching the dead-letter lists of every queue under `prefix`. */
export function deadLetterPattern(prefix: string): string {
  return `${prefix.replace(/[*?[\]\\]/g, (c) => `\\${c}`)}:q:{*}:dead`;
}
