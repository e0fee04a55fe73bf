/**
 * The transport interface. A broker knows queues and messages, never workflows (DESIGN): it carries small
 * envelopes of ids; arguments and state live in the store. Implementations: memory, redis, amqp.
 *
 * Delivery rules every implementation keeps (DESIGN inv 5, 6):
 * - Nothing is popped destructively: a delivery stays in the broker (an in-flight list, a stream's pending
 *   entries, an unacked AMQP delivery) until `ack()` or `deadLetter()`.
 * - A delivery whose consumer dies (process killed, connection lost) comes back to the queue by itself
 *   (`redelivered: true`) after at most the broker's reclaim bound.
 * - `publish` resolves only once the broker holds the message durably (publisher confirms, a Redis write).
 * - Delays (`delayMs`) live in the broker (a sorted set, TTL queues), never in a long `setTimeout`.
 */

import type { QueuePush } from '../core/queue-push.js';
import type { WriteCarrier } from '../core/write-carrier.js';

/** One message body: ids only (RELIABILITY §1.2). */
export interface Envelope {
  /** Envelope format version (1). */
  v: 1;
  workflowId: string;
  nodeId: string;
  /** The node attempt this message is for; a claim needs it to equal the stored attempt. */
  attempt: number;
  /** The task name, checked against the stored node (a mismatch is `forged_or_corrupt`). */
  task: string;
}

/** How one message is sent. */
export interface PublishOptions {
  /** Not delivered before this many ms from now (countdowns, retry backoff). */
  delayMs?: number;
  /** 0-9, higher first, where the broker supports it. */
  priority?: number;
}

/** One message handed to a consumer. */
export interface Delivery {
  /** The queue it came from. */
  readonly queue: string;
  /** The raw body exactly as published; the worker checks size and parses it (never the broker). */
  readonly body: Buffer;
  /** True when the broker knows it delivered this message before. */
  readonly redelivered: boolean;
  /** Removes the message for good. Safe to call twice. */
  ack(): Promise<void>;
  /**
   * Moves the message to the dead-letter place with a reason code (e.g. `malformed`) and detail, then removes
   * it from the queue. The copy is safe before the original is removed.
   */
  deadLetter(reason: string, detail?: string): Promise<void>;
  /** Gives the message back to its queue for another consumer (graceful shutdown). */
  release(): Promise<void>;
}

/**
 * A running consumption. `stop()` takes no new deliveries; deliveries already handed out stay ackable for at
 * most the consumer's `leaseMs`, then return to their queue (redelivered).
 */
export interface Consumer {
  stop(): Promise<void>;
  /**
   * Takes one of the consumer's `prefetch` slots without a delivery until the returned function is called
   * (calling it again does nothing): a worker running a node it got without a message (a completion's
   * continuation, store.ts ContinueRequest) keeps to its concurrency. Absent where the server enforces the
   * prefetch (AMQP): such a worker asks for no continuations.
   */
  hold?(): () => void;
}

/** What a consumer wants. */
export interface ConsumeOptions {
  /** Most deliveries handed out and not yet acked at once (the worker's concurrency). */
  prefetch: number;
  /**
   * Lease of a delivery in ms: a broker that must detect dead consumers itself (redis) reclaims a delivery
   * unacked for longer than this. Workers pass their `leaseMs`.
   */
  leaseMs?: number;
}

/** A dead-lettered message as kept for inspection. */
export interface DeadLetter {
  queue: string;
  reason: string;
  detail?: string;
  body: string;
  at: number;
}

/** A message transport. */
export interface Broker {
  /**
   * The publish as a push that another connection to this broker's server may send (a Redis store sends a new
   * workflow's root publishes right behind its create, in one write); `undefined` when this publish needs the
   * broker itself (a delay). Only a broker whose messages live in Redis offers it; {@link Broker.serverUrl}
   * tells which server.
   */
  pushFor?(queue: string, body: Buffer, options?: PublishOptions): QueuePush | undefined;
  /** The server `pushFor` pushes are for (the broker's connection URL). */
  readonly serverUrl?: string;
  /**
   * Where a store on this broker's server may let its claims ride in the writes this broker's consumers are
   * about to make (core/write-carrier.ts, Store.rideWith). Only a broker whose messages live in Redis has one.
   */
  readonly carrier?: WriteCarrier;
  /** Short name for logs: `memory`, `redis`, `amqp`. */
  readonly kind: string;
  /** Connects (and fails with ConfigError when the server cannot be reached). */
  connect(): Promise<void>;
  /** Makes sure these queues exist (AMQP declares them at start, never lazily: RELIABILITY D6). */
  declare(queues: readonly string[]): Promise<void>;
  /** Sends one body to a queue; resolves once the broker holds it. */
  publish(queue: string, body: Buffer, options?: PublishOptions): Promise<void>;
  /** Starts handing deliveries from these queues to `onDelivery`, at most `prefetch` unacked at once. */
  consume(queues: readonly string[], options: ConsumeOptions, onDelivery: (delivery: Delivery) => void): Promise<Consumer>;
  /** Dead letters kept for inspection, newest first. */
  deadLetters(limit?: number): Promise<DeadLetter[]>;
  /**
   * Keeps a copy of a message as a dead letter of `queue` (listed by {@link Broker.deadLetters}), for a message no
   * delivery of which is held: a node the store failed for good with WorkerLostError once its workers kept
   * dying (RELIABILITY §1.4). Nothing is taken from the queue.
   */
  deadLetter(queue: string, body: Buffer, reason: string, detail?: string): Promise<void>;
  /** Removes every queue, delayed message and dead letter under this broker's prefix (tests, `braid purge`). */
  purge(queues: readonly string[]): Promise<void>;
  /** Releases every connection and timer. */
  close(): Promise<void>;
}
