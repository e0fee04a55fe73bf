/**
 * The in-process broker: queues, priorities, delays and prefetch in memory, for tests, the eager mode and
 * single-process apps. Nothing survives the process; everything else follows the Broker contract.
 *
 * - Priorities 0-9, higher first, FIFO within a priority.
 * - Delays sit in one min-heap with ONE timer armed for the earliest due time (capped, RELIABILITY D10).
 * - Delivery is always asynchronous (a `setImmediate` drain, never inside `publish`) and round-robin across
 *   consumers and across each consumer's queues.
 * - A consumer of the queue name `'*'` receives from every queue, present and future (eager mode).
 * - Unacked deliveries return to the head of their queue, marked redelivered, on `release()` or when their
 *   consumer stops. Until someone else takes it, the old delivery may still ack or dead-letter it.
 */
import type { Logger } from 'pino';
import { ConfigError } from '../../core/errors.js';
import type { Broker, ConsumeOptions, Consumer, DeadLetter, Delivery, PublishOptions } from '../broker.js';
import { DelayHeap } from './delay-heap.js';
import { DueTimer } from './due-timer.js';
import { MemoryConsumer, MemoryDelivery, type MemoryBrokerCore } from './memory-consumer.js';
import { MAX_PRIORITY, MemoryQueue, type MemoryMessage } from './memory-queue.js';
import { checkPublishOptions } from './options.js';

/** Options of {@link MemoryBroker}. */
export interface MemoryBrokerOptions {
  /** Namespace of this broker (kept for symmetry with remote brokers; queues are per instance anyway). */
  prefix?: string;
  /** Time source for delays, in ms (default `Date.now`). Call `runDue()` after moving a fake clock. */
  clock?: () => number;
  /** Where a throwing `onDelivery` callback is reported. */
  logger?: Logger;
  /** Most dead letters kept, oldest dropped first (default 10,000). */
  maxDeadLetters?: number;
}

/** Most deliveries one drain hands out before yielding to I/O. */
const DRAIN_BATCH = 1_000;

/**
 * An in-process {@link Broker}.
 *
 * @example
 * const broker = new MemoryBroker();
 * await broker.connect();
 * await broker.consume(['default'], { prefetch: 4 }, (d) => void d.ack());
 * await broker.publish('default', Buffer.from('{"v":1}'), { priority: 5 });
 */
export class MemoryBroker implements Broker, MemoryBrokerCore {
  /** Short name for logs. */
  readonly kind = 'memory';
  /** Namespace given at construction. */
  readonly prefix: string;
  private readonly clock: () => number;
  private readonly logger: Logger | undefined;
  private readonly maxDeadLetters: number;
  private readonly queues = new Map<string, MemoryQueue>();
  private queueNames: string[] = [];
  private consumers: MemoryConsumer[] = [];
  private consumerCursor = 0;
  private readonly delayed = new DelayHeap<MemoryMessage>();
  private readonly timer: DueTimer;
  private readonly dead: DeadLetter[] = [];
  private drainHandle: NodeJS.Immediate | undefined;
  private closed = false;

  constructor(options: MemoryBrokerOptions = {}) {
    this.prefix = options.prefix ?? 'braid';
    this.clock = options.clock ?? Date.now;
    this.logger = options.logger;
    this.maxDeadLetters = options.maxDeadLetters ?? 10_000;
    this.timer = new DueTimer(this.clock, () => this.runDue());
  }

  /** Nothing to connect to; refuses a closed broker. */
  async connect(): Promise<void> {
    this.assertOpen();
  }

  /** Creates the queues if missing. */
  async declare(queues: readonly string[]): Promise<void> {
    for (const name of queues) this.queue(name);
  }

  /** Stores the message (a copy of `body`); delivery happens later, never inside this call. */
  async publish(queue: string, body: Buffer, options: PublishOptions = {}): Promise<void> {
    this.assertOpen();
    const { delayMs, priority } = checkPublishOptions(options, MAX_PRIORITY);
    const message: MemoryMessage = {
      queue,
      body: Buffer.from(body),
      priority,
      redelivered: false,
      state: 'ready',
      generation: 0,
      holder: undefined,
    };
    this.queue(queue);
    if (delayMs > 0) {
      message.state = 'delayed';
      const dueAt = this.clock() + delayMs;
      this.delayed.push(dueAt, message);
      this.timer.arm(dueAt);
      return;
    }
    this.enqueue(message, false);
  }

  /** Starts a consumer; `'*'` among the queues means every queue. */
  async consume(queues: readonly string[], options: ConsumeOptions, onDelivery: (delivery: Delivery) => void): Promise<Consumer> {
    this.assertOpen();
    if (!Number.isInteger(options.prefetch) || options.prefetch < 1) {
      throw new ConfigError(`memory broker: prefetch must be a positive integer, got ${String(options.prefetch)}`);
    }
    const wildcard = queues.includes('*');
    if (!wildcard) for (const name of queues) this.queue(name);
    const consumer = new MemoryConsumer(this, wildcard ? '*' : [...new Set(queues)], options.prefetch, onDelivery);
    this.consumers.push(consumer);
    this.scheduleDrain();
    return consumer;
  }

  /** Dead letters, newest first. */
  async deadLetters(limit = 100): Promise<DeadLetter[]> {
    return this.dead.slice(-Math.max(0, limit)).reverse().map((letter) => ({ ...letter }));
  }

  /** Drops every ready, delayed and held message and every dead letter of these queues. */
  async purge(queues: readonly string[]): Promise<void> {
    const names = new Set(queues);
    for (const name of names) {
      const queue = this.queues.get(name);
      if (queue !== undefined) for (const message of queue.drain()) message.state = 'done';
    }
    this.delayed.filter((message) => {
      if (!names.has(message.queue)) return true;
      message.state = 'done';
      return false;
    });
    for (const consumer of this.consumers) {
      for (const message of consumer.held) {
        if (names.has(message.queue)) this.detach(message);
      }
    }
    for (let i = this.dead.length - 1; i >= 0; i -= 1) {
      if (names.has((this.dead[i] as DeadLetter).queue)) this.dead.splice(i, 1);
    }
    this.timer.arm(this.delayed.peekDue());
  }

  /** Clears every timer and stops every consumer; later calls other than `close` reject. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const consumer of [...this.consumers]) this.stopConsumer(consumer);
    this.timer.clear();
    if (this.drainHandle !== undefined) clearImmediate(this.drainHandle);
    this.drainHandle = undefined;
  }

  /** Moves every delayed message due by the clock into its queue (the timer calls it; so may a test). */
  runDue(): void {
    const now = this.clock();
    for (let message = this.delayed.popDue(now); message !== undefined; message = this.delayed.popDue(now)) {
      if (message.state === 'delayed') this.enqueue(message, false);
    }
    if (!this.closed) this.timer.arm(this.delayed.peekDue());
  }

  /** @internal Settles a delivery (ack or dead letter) if its generation is current. */
  settle(message: MemoryMessage, generation: number, deadLetter?: { reason: string; detail?: string }): void {
    if (message.generation !== generation) return;
    if (message.state === 'ready') {
      this.queues.get(message.queue)?.remove(message);
    } else if (message.state !== 'held') {
      return;
    }
    if (deadLetter !== undefined) this.keepDead(message.queue, message.body, deadLetter.reason, deadLetter.detail);
    this.detach(message);
  }

  /** Keeps a copy of a message as a dead letter of `queue`; nothing is taken from the queue. */
  async deadLetter(queue: string, body: Buffer, reason: string, detail?: string): Promise<void> {
    this.assertOpen();
    this.keepDead(queue, body, reason, detail);
  }

  private keepDead(queue: string, body: Buffer, reason: string, detail: string | undefined): void {
    const letter: DeadLetter = { queue, reason, body: body.toString('utf8'), at: this.clock() };
    if (detail !== undefined) letter.detail = detail;
    this.dead.push(letter);
    if (this.dead.length > this.maxDeadLetters) this.dead.splice(0, this.dead.length - this.maxDeadLetters);
  }

  /** @internal Returns a held message to the head of its queue if its generation is current. */
  release(message: MemoryMessage, generation: number): void {
    if (message.generation !== generation || message.state !== 'held') return;
    message.holder?.held.delete(message);
    message.holder = undefined;
    this.enqueue(message, true);
  }

  /** @internal Removes a consumer; what it holds goes back to the head of its queues, in order. */
  stopConsumer(consumer: MemoryConsumer): void {
    if (!consumer.active) return;
    consumer.active = false;
    this.consumers = this.consumers.filter((c) => c !== consumer);
    const held = [...consumer.held].reverse();
    consumer.held.clear();
    for (const message of held) {
      message.holder = undefined;
      this.enqueue(message, true);
    }
  }

  /** @internal A consumer let go of a held slot (MemoryConsumer.hold). */
  roomFreed(): void {
    this.scheduleDrain();
  }

  private detach(message: MemoryMessage): void {
    message.holder?.held.delete(message);
    message.holder = undefined;
    message.state = 'done';
    this.scheduleDrain();
  }

  private enqueue(message: MemoryMessage, returned: boolean): void {
    message.state = 'ready';
    const queue = this.queue(message.queue);
    if (returned) {
      message.redelivered = true;
      queue.unshift(message);
    } else {
      queue.push(message);
    }
    this.scheduleDrain();
  }

  private queue(name: string): MemoryQueue {
    let queue = this.queues.get(name);
    if (queue === undefined) {
      queue = new MemoryQueue(name);
      this.queues.set(name, queue);
      this.queueNames = [...this.queues.keys()];
    }
    return queue;
  }

  private scheduleDrain(): void {
    if (this.drainHandle !== undefined || this.closed || this.consumers.length === 0) return;
    this.drainHandle = setImmediate(() => {
      this.drainHandle = undefined;
      this.drain();
    });
  }

  /** Hands out messages one per consumer per round, until nobody can take more or a batch is done. */
  private drain(): void {
    let handed = 0;
    let progress = true;
    while (progress && handed < DRAIN_BATCH && !this.closed) {
      progress = false;
      const consumers = this.consumers;
      const start = this.consumerCursor % Math.max(1, consumers.length);
      this.consumerCursor = start + 1;
      for (let i = 0; i < consumers.length; i += 1) {
        const consumer = consumers[(start + i) % consumers.length] as MemoryConsumer;
        if (!consumer.hasRoom) continue;
        const message = this.takeFor(consumer);
        if (message === undefined) continue;
        this.handOut(consumer, message);
        progress = true;
        handed += 1;
      }
    }
    if (handed >= DRAIN_BATCH) this.scheduleDrain();
  }

  private takeFor(consumer: MemoryConsumer): MemoryMessage | undefined {
    const names = consumer.queues === '*' ? this.queueNames : consumer.queues;
    for (let i = 0; i < names.length; i += 1) {
      const index = (consumer.cursor + i) % names.length;
      const queue = this.queues.get(names[index] as string);
      if (queue === undefined || queue.size === 0) continue;
      consumer.cursor = index + 1;
      return queue.shift();
    }
    return undefined;
  }

  private handOut(consumer: MemoryConsumer, message: MemoryMessage): void {
    message.state = 'held';
    message.generation += 1;
    message.holder = consumer;
    consumer.held.add(message);
    const generation = message.generation;
    try {
      consumer.onDelivery(new MemoryDelivery(this, message, generation));
    } catch (error) {
      this.logger?.error({ err: error, queue: message.queue }, 'onDelivery threw; delivery released');
      this.release(message, generation);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('the memory broker is closed');
  }
}
