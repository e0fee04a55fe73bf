/**
 * One delivery of the Redis broker. Its entry stays in the queue's in-flight sorted set until acked or
 * dead-lettered (DESIGN inv 5); the owning consumer does the Redis work.
 */
import type { Delivery } from '../broker.js';

/** What a delivery calls back into (its consumer). */
export interface DeliveryOwner {
  ackDelivery(delivery: RedisDelivery): Promise<void>;
  deadLetterDelivery(delivery: RedisDelivery, reason: string, detail?: string): Promise<void>;
  releaseDelivery(delivery: RedisDelivery): Promise<void>;
}

/** A message handed to a consumer callback. */
export class RedisDelivery implements Delivery {
  private acked: Promise<void> | undefined;

  /**
   * @param entry - the stored entry exactly as taken (the in-flight member).
   * @param body - the message body inside it.
   */
  constructor(
    private readonly owner: DeliveryOwner,
    readonly queue: string,
    readonly entry: Buffer,
    readonly body: Buffer,
    readonly redelivered: boolean,
  ) {}

  /**
   * Removes the message for good: its `ZREM` lingers a few ms for a write the broker makes anyway
   * (ack-batcher.ts); resolves once queued. A second call returns the first call's promise.
   */
  ack(): Promise<void> {
    this.acked ??= this.owner.ackDelivery(this);
    return this.acked;
  }

  /** Copies the message to the queue's dead letters and removes it, in one script. */
  deadLetter(reason: string, detail?: string): Promise<void> {
    return this.owner.deadLetterDelivery(this, reason, detail);
  }

  /** Gives the message back (next taker gets it, marked redelivered); nothing if no longer held. */
  release(): Promise<void> {
    return this.owner.releaseDelivery(this);
  }
}
