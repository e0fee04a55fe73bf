/**
 * Consumers and deliveries of the memory broker. A delivery acts on its message only while the message still
 * carries the generation it was handed out with: once the message went to someone else, ack, dead-letter and
 * release of the old delivery do nothing (a second ack is harmless by the same rule).
 */
import type { Consumer, Delivery } from '../broker.js';
import { HeldSlots } from '../held-slots.js';
import type { MemoryMessage, MessageHolder } from './memory-queue.js';

/** The broker operations a delivery or a consumer calls back into. */
export interface MemoryBrokerCore {
  /** Removes the message for good if `generation` is current; with `deadLetter`, keeps a copy first. */
  settle(message: MemoryMessage, generation: number, deadLetter?: { reason: string; detail?: string }): void;
  /** Gives a held message back to the head of its queue if `generation` is current. */
  release(message: MemoryMessage, generation: number): void;
  /** Removes the consumer and returns what it holds unacked. */
  stopConsumer(consumer: MemoryConsumer): void;
  /** A consumer has room again: hand out what waits. */
  roomFreed(): void;
}

/** One handed-out message. */
export class MemoryDelivery implements Delivery {
  readonly queue: string;
  readonly body: Buffer;
  readonly redelivered: boolean;

  constructor(
    private readonly core: MemoryBrokerCore,
    private readonly message: MemoryMessage,
    private readonly generation: number,
  ) {
    this.queue = message.queue;
    this.body = message.body;
    this.redelivered = message.redelivered;
  }

  /** Removes the message for good; does nothing when it was already settled or handed to someone else. */
  async ack(): Promise<void> {
    this.core.settle(this.message, this.generation);
  }

  /** Keeps a copy among the dead letters, then removes the message. */
  async deadLetter(reason: string, detail?: string): Promise<void> {
    this.core.settle(this.message, this.generation, detail === undefined ? { reason } : { reason, detail });
  }

  /** Returns the message to the head of its queue, marked redelivered. */
  async release(): Promise<void> {
    this.core.release(this.message, this.generation);
  }
}

/** One consumption: its queues (or every queue for `'*'`), its prefetch and what it holds. */
export class MemoryConsumer implements Consumer, MessageHolder {
  /** Messages handed out and not yet settled, in hand-out order. */
  readonly held = new Set<MemoryMessage>();
  /** Whether it still takes deliveries. */
  active = true;
  /** Where the next round-robin pick across its queues starts. */
  cursor = 0;
  /** Slots taken by {@link MemoryConsumer.hold}. */
  private readonly holds = new HeldSlots(() => this.core.roomFreed());

  /**
   * @param queues - queue names, or `'*'` for every queue of the broker.
   * @param prefetch - most messages held at once.
   * @param onDelivery - the consumer's callback.
   */
  constructor(
    private readonly core: MemoryBrokerCore,
    readonly queues: readonly string[] | '*',
    readonly prefetch: number,
    readonly onDelivery: (delivery: Delivery) => void,
  ) {}

  /** Whether it can take one more message now. */
  get hasRoom(): boolean {
    return this.active && this.held.size + this.holds.count < this.prefetch;
  }

  /** Takes a prefetch slot without a message until the returned function is called (Consumer.hold). */
  hold(): () => void {
    return this.holds.take();
  }

  /** Takes no more deliveries; what it holds unacked goes back to its queues, marked redelivered. */
  async stop(): Promise<void> {
    this.core.stopConsumer(this);
  }
}
