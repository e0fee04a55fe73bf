/**
 * A message appended to a Redis broker queue by someone other than the broker: the Redis broker hands the
 * publishes of a new workflow's roots (Broker.pushesFor) to a Redis store on the same server, which sends them
 * right behind the create on its own connection, in the same write (Store.createAndSend), so they can never
 * overtake it. The store groups the pushes of one call: one `RPUSH` per list, one `ZADD` per marker.
 */

/** `RPUSH list entry`, then `ZADD marker 0 m` (the queue's wake marker). */
export interface QueuePush {
  readonly list: string;
  readonly marker: string;
  /** The broker entry, bytes as they are. */
  readonly entry: Buffer;
}
