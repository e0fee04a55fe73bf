/**
 * The delivery a worker runs a completion's continuation under (store.ts ContinueRequest): no message stands
 * behind the node, only the prefetch slot the worker holds for it. Settling it in any way frees that slot; there
 * is nothing to give back to a queue, so when the worker lets go of the node without a stored outcome (a store
 * that cannot take it back at shutdown, a worker that dies) the node's lease lapses and the sweep sends it back
 * to its queue (DESIGN inv 6).
 */
import type { Delivery } from '../brokers/broker.js';
import type { ContinuedNode } from '../stores/store.js';
import { encodeEnvelope } from './envelope.js';

/** A {@link Delivery} for a node claimed by a completion, holding one prefetch slot. */
export class ContinuedDelivery implements Delivery {
  readonly queue: string;
  readonly redelivered = false;

  constructor(private readonly next: ContinuedNode, private readonly free: () => void) {
    this.queue = next.message.queue;
  }

  /** The message the node would have been published with (for logs). */
  get body(): Buffer {
    return encodeEnvelope(this.next.message);
  }

  /** The outcome is stored: frees the slot. */
  async ack(): Promise<void> {
    this.free();
  }

  /** Frees the slot; a claimed node is never dead-lettered (the store answered for it). */
  async deadLetter(): Promise<void> {
    this.free();
  }

  /** Frees the slot; the node comes back through its lease (see the module comment). */
  async release(): Promise<void> {
    this.free();
  }
}
