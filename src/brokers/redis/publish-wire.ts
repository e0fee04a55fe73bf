/**
 * A ready publish as plain commands another connection to the broker's server can send (Broker.publishWire):
 * `RPUSH` of the entry onto its priority's list, then `ZADD` of the queue's wake marker. The `pushMany` script
 * (scripts.ts) does the same for a batch and sets the marker only when a list was empty; set anyway, the marker
 * costs an idle consumer one take that may find nothing. Both are single-key commands on keys of the queue's
 * hash tag (cluster-safe), and as safe to run twice as a publish is (a duplicate message is harmless, DESIGN inv 2).
 */
import type { RawCommand } from '../../core/raw-command.js';
import { respWire } from '../../core/resp-command.js';
import type { QueueKeys } from './keys.js';

/** The marker's `ZADD`, built once per queue. */
const markers = new WeakMap<QueueKeys, RawCommand>();

/** `entry` (its bytes as they are) appended to the list of `priority` and the marker set, as raw commands. */
export function pushWire(keys: QueueKeys, priority: number, entry: Buffer): RawCommand[] {
  let marker = markers.get(keys);
  if (marker === undefined) markers.set(keys, (marker = { name: 'zadd', wire: respWire(['ZADD', keys.marker, 0, 'm']) }));
  return [{ name: 'rpush', wire: respWire(['RPUSH', keys.lists[priority] as string, entry]) }, marker];
}
