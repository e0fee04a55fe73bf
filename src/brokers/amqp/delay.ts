/**
 * Delays without a plugin: binary TTL levels.
 *
 * Level N (0-30) is a durable queue `${prefix}.delay.N` whose queue-wide `x-message-ttl` is 2^N ms, and a
 * headers exchange of the same name. A delay of d ms is written in binary; the message carries one header
 * `braid-delay-N: 1` per set bit and `braid-queue: <queue>`, and is published straight into the queue of the
 * highest set bit. When it expires there, the queue dead-letters it into the exchange one level down; that
 * exchange routes it into its level's queue if the message has that bit, else its alternate exchange passes
 * it one level further down, and so on; below level 0 the route exchange sends it to the work queue by its
 * `braid-queue` header. A message thus waits exactly d ms in total (the sum of its set bits), plus a few ms
 * per hop, in at most 31 hops, and no process holds it meanwhile (D8: no delivery is held through a countdown).
 *
 * Why this and not the alternatives:
 * - Per-message `expiration` in one delay queue is late: RabbitMQ only expires messages at the head of a
 *   queue, so a 1 s message behind a 1 h one waits the hour.
 * - Rounding up to a few fixed buckets (1 s, 10 s, 1 min, ...) is never early but can be late by a whole
 *   bucket, which ruins short retry backoffs.
 * - With one TTL per queue every message in a level queue has the same TTL, so the head is always the first
 *   to expire: nothing waits behind a longer message, and nothing leaves a level before its 2^N ms. Delivery
 *   is never early; lateness is bounded by the hop count (measured: see docs/brokers.md).
 *
 * Delays up to 2^31 − 1 ms (≈ 24.8 days) are supported; longer ones belong in the store (RELIABILITY D10).
 */
import { ConfigError } from '../../core/errors.js';
import type { TopologyNames } from './topology.js';

/** Header that the route exchange matches to pick the work queue at the end of a delay. */
export const routeHeader = 'braid-queue';

/** Header that marks bit `level` of a delay as set. */
export function delayBitHeader(level: number): string {
  return `braid-delay-${level}`;
}

/** Number of delay levels: level N holds messages for 2^N ms, N = 0..30. */
export const delayLevels = 31;

/** Longest delay in ms (all 31 bits set). */
export const maxDelayMs = 2 ** delayLevels - 1;

/** Where a delayed message is published and the headers that route it down the levels. */
export interface DelayPlan {
  /** The queue of the highest set bit, published to through the default exchange. */
  entryQueue: string;
  headers: Record<string, string | number>;
}

/**
 * Plans a delay. Fractions of a ms round up (never early). Returns `undefined` for no delay (≤ 0 or absent).
 * Throws `ConfigError` for NaN, infinity and delays over {@link maxDelayMs}.
 */
export function planDelay(names: TopologyNames, queue: string, delayMs: number | undefined): DelayPlan | undefined {
  if (delayMs === undefined) return undefined;
  if (!Number.isFinite(delayMs) || delayMs > maxDelayMs) {
    throw new ConfigError(`delayMs must be a finite number of ms up to ${maxDelayMs}, got ${delayMs}`);
  }
  const delay = Math.ceil(delayMs);
  if (delay <= 0) return undefined;
  const headers: Record<string, string | number> = { [routeHeader]: queue };
  let highest = 0;
  for (let level = 0; level < delayLevels; level++) {
    if (Math.floor(delay / 2 ** level) % 2 === 1) {
      headers[delayBitHeader(level)] = 1;
      highest = level;
    }
  }
  return { entryQueue: names.delay(highest), headers };
}
