/**
 * The RabbitMQ broker, on amqplib (≥ 2.3.1, RELIABILITY D9). Layout of queues and exchanges: topology.ts;
 * delays: delay.ts; confirms and retries: publisher.ts; consumers: consumer.ts; dead letters: dead-letters.ts.
 *
 * Two connections, one for publishing and one for consuming (RabbitMQ blocks a publishing connection under a
 * resource alarm; acks must still flow), each named `braid:<prefix>:<role>:<pid>` so operators and tests can
 * find them (`rabbitmqctl list_connections client_properties`), each redialing on loss with backoff.
 *
 * Priorities: classic queues are declared with `x-max-priority` 9 and honour 0-9. Quorum queues on RabbitMQ
 * 3.x refuse `x-max-priority` and ignore message priority (FIFO); on 4.x they keep two levels (priority ≥ 5
 * first). The message's `priority` property is always set, so an upgrade to 4.x turns this on by itself.
 * `capabilities.priority` says which applies once connected.
 *
 * @example
 * ```ts
 * const broker = new AmqpBroker({ url: 'amqp://app:secret@rabbit.internal/app', prefix: 'braid' });
 * await broker.connect();
 * await broker.declare(['default']);
 * await broker.publish('default', Buffer.from(JSON.stringify(envelope)), { delayMs: 5_000 });
 * ```
 */
import { hostname } from 'node:os';
import { pino, type Logger } from 'pino';
import type { Broker, ConsumeOptions, Consumer, DeadLetter, Delivery, PublishOptions } from '../broker.js';
import { ConfigError } from '../../core/errors.js';
import { ManagedConnection } from './connection.js';
import { AmqpConsumer } from './consumer.js';
import { deadHeaders, peekDeadLetters } from './dead-letters.js';
import { planDelay } from './delay.js';
import { BrokerClosedError } from './errors.js';
import { checkPrefix, readUrlSettings, resolveConnection, type AmqpBrokerOptions, type AmqpQueueType } from './options.js';
import { ConfirmPublisher } from './publisher.js';
import { checkQueueName, declareTopology, deleteTopology, maxPriority, topologyNames, type TopologyNames } from './topology.js';

/** What this broker does with `PublishOptions.priority` on the connected server. */
export interface AmqpCapabilities {
  /** `levels`: 0-9 (classic); `two-levels`: ≥ 5 first (quorum, RabbitMQ 4.x); `none`: FIFO (quorum, 3.x). */
  priority: 'levels' | 'two-levels' | 'none';
}

const maxDetailLength = 4_096;
const defaultStopGraceMs = 30_000;

/** A `Broker` on RabbitMQ: quorum (or classic) queues, publisher confirms, manual acks, plugin-free delays. */
export class AmqpBroker implements Broker {
  /** Short name for logs. */
  readonly kind = 'amqp';
  private readonly names: TopologyNames;
  private readonly queueType: AmqpQueueType;
  private readonly deliveryLimit: number;
  private readonly logger: Logger;
  private readonly publishing: ManagedConnection;
  private readonly consuming: ManagedConnection;
  private readonly publisher: ConfirmPublisher;
  private readonly consumers = new Set<AmqpConsumer>();
  /** Queues known to exist (declared or checked here); whether the shared topology was declared. */
  private readonly knownQueues = new Set<string>();
  private sharedDeclared = false;
  private readonly insecureTls: boolean;
  private state: 'new' | 'open' | 'closed' = 'new';

  /** Checks the options (`ConfigError`); connects nothing until {@link AmqpBroker.connect}. */
  constructor(options: AmqpBrokerOptions) {
    checkPrefix(options.prefix);
    const fromUrl = readUrlSettings(options.url);
    this.queueType = options.queueType ?? fromUrl.queueType ?? 'quorum';
    if (this.queueType !== 'quorum' && this.queueType !== 'classic') throw new ConfigError(`amqp queueType must be quorum or classic`);
    this.deliveryLimit = positiveInteger(options.deliveryLimit ?? fromUrl.deliveryLimit ?? 20, 'deliveryLimit');
    const publishTimeoutMs = positiveInteger(options.publishTimeoutMs ?? fromUrl.publishTimeoutMs ?? 30_000, 'publishTimeoutMs');
    this.names = topologyNames(options.prefix);
    const name = (role: string) => `braid:${options.prefix}:${role}:${hostname()}:${process.pid}`;
    const forPublish = resolveConnection(options.url, options.tls, name('publish'));
    const forConsume = resolveConnection(options.url, options.tls, name('consume'));
    this.insecureTls = forPublish.insecureTls;
    this.logger = (options.logger ?? pino({ enabled: false })).child({ broker: 'amqp', ...forPublish.where, prefix: options.prefix });
    this.publishing = new ManagedConnection(forPublish, this.logger.child({ role: 'publish' }));
    this.consuming = new ManagedConnection(forConsume, this.logger.child({ role: 'consume' }));
    this.publisher = new ConfirmPublisher(this.publishing, this.logger, publishTimeoutMs);
  }

  /** What priorities do here; known once connected (`none` before). */
  get capabilities(): AmqpCapabilities {
    if (this.queueType === 'classic') return { priority: 'levels' };
    const major = Number((this.publishing.serverVersion ?? '0').split('.')[0]);
    return { priority: major >= 4 ? 'two-levels' : 'none' };
  }

  /** Opens both connections; `ConfigError` when the server cannot be reached or refuses the login. */
  async connect(): Promise<void> {
    if (this.state === 'closed') throw new BrokerClosedError();
    if (this.state === 'open') return;
    if (this.insecureTls) this.logger.warn('amqps certificate verification is OFF (tls.rejectUnauthorized: false)');
    await this.publishing.open();
    try {
      await this.consuming.open();
    } catch (error) {
      await this.publishing.close();
      throw error;
    }
    this.state = 'open';
    const version = this.publishing.serverVersion;
    this.logger.info({ version, queueType: this.queueType, priority: this.capabilities.priority }, 'amqp broker connected');
  }

  /**
   * Declares these work queues, and the shared topology (dead queue, delay levels) the first time, again
   * after `purge()` or once a publish found something missing. Call at worker and producer start (D6).
   */
  async declare(queues: readonly string[]): Promise<void> {
    for (const queue of queues) checkQueueName(this.names, queue);
    const unique = [...new Set(queues)];
    const model = await this.open().ready();
    const settings = { names: this.names, queueType: this.queueType, deliveryLimit: this.deliveryLimit };
    await declareTopology(model, settings, unique, { shared: !this.sharedDeclared });
    this.sharedDeclared = true;
    for (const queue of unique) this.knownQueues.add(queue);
  }

  /** Publishes with a confirm; `ConfigError` for an undeclared queue, `BrokerUnavailableError` past the timeout. */
  async publish(queue: string, body: Buffer, options?: PublishOptions): Promise<void> {
    this.open();
    checkQueueName(this.names, queue);
    const plan = planDelay(this.names, queue, options?.delayMs);
    const priority = options?.priority;
    if (priority !== undefined && (!Number.isInteger(priority) || priority < 0 || priority > maxPriority)) {
      throw new ConfigError(`priority must be an integer 0-${maxPriority}, got ${priority}`);
    }
    if (plan) await this.checkQueueExists(queue);
    const target = plan ? plan.entryQueue : this.names.queue(queue);
    try {
      await this.publisher.publish({ queue, target, body, ...(plan ? { headers: plan.headers } : {}), ...(priority === undefined ? {} : { priority }) });
    } catch (error) {
      if (error instanceof ConfigError) this.forget(queue);
      throw error;
    }
  }

  /**
   * Consumes these queues with manual acks, at most `prefetch` deliveries unsettled at once. After `stop()`,
   * deliveries already handed out stay ackable for `leaseMs` (default 30 s); then the consumer's channel
   * closes and RabbitMQ requeues whatever is still unsettled.
   */
  async consume(queues: readonly string[], options: ConsumeOptions, onDelivery: (delivery: Delivery) => void): Promise<Consumer> {
    this.open();
    const prefetch = positiveInteger(options.prefetch, 'prefetch');
    const consumer = new AmqpConsumer({
      connection: this.consuming,
      queues: queues.map((name) => ({ name, target: this.names.queue(name) })),
      prefetch,
      graceMs: options.leaseMs ?? defaultStopGraceMs,
      onDelivery,
      publishDead: (queue, message, reason, detail) => this.publishDead(queue, message.content, reason, detail),
      logger: this.logger.child({ role: 'consume' }),
    });
    await consumer.start();
    this.consumers.add(consumer);
    return {
      stop: async () => {
        await consumer.stop();
        this.consumers.delete(consumer);
      },
    };
  }

  /** Reads the dead queue without removing anything; newest first. */
  async deadLetters(limit = 100): Promise<DeadLetter[]> {
    return peekDeadLetters(await this.open().ready(), this.names, limit);
  }

  /** Deletes these work queues and every shared queue and exchange under the prefix (delays, dead letters). */
  async purge(queues: readonly string[]): Promise<void> {
    const model = await this.open().ready();
    await deleteTopology(model, this.names, queues);
    this.forget();
  }

  /** Stops every consumer (unsettled deliveries go back), then closes both connections. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    for (const consumer of this.consumers) await consumer.close();
    this.consumers.clear();
    await this.publisher.close();
    await Promise.all([this.publishing.close(), this.consuming.close()]);
  }

  private open(): ManagedConnection {
    if (this.state === 'closed') throw new BrokerClosedError();
    if (this.state === 'new') throw new ConfigError('amqp broker: call connect() first');
    return this.publishing;
  }

  /** Forgets what is known to exist (one queue, or every queue), so the next `declare()` does it all again. */
  private forget(queue?: string): void {
    this.sharedDeclared = false;
    if (queue === undefined) this.knownQueues.clear();
    else this.knownQueues.delete(queue);
  }

  /** Keeps a copy of a message as a dead letter of `queue` (published to the dead queue); nothing is taken from the queue. */
  async deadLetter(queue: string, body: Buffer, reason: string, detail?: string): Promise<void> {
    this.open();
    await this.declare([queue]);
    await this.publishDead(queue, body, reason, detail);
  }

  private publishDead(queue: string, body: Buffer, reason: string, detail: string | undefined): Promise<void> {
    const headers: Record<string, unknown> = { [deadHeaders.reason]: reason, [deadHeaders.queue]: queue, [deadHeaders.at]: Date.now() };
    if (detail !== undefined) headers[deadHeaders.detail] = detail.slice(0, maxDetailLength);
    return this.publisher.publish({ queue, target: this.names.dead, body, headers });
  }

  /**
   * A delayed message is confirmed once it is in a delay queue; if its work queue is missing when the delay
   * ends it goes to the dead queue. So check once per queue and process that the work queue exists (skipped
   * while disconnected: the publisher's own wait and deadline apply then).
   */
  private async checkQueueExists(queue: string): Promise<void> {
    const model = this.publishing.current;
    if (this.knownQueues.has(queue) || !model) return;
    let missing: unknown;
    try {
      const channel = await model.createChannel();
      channel.on('error', () => undefined);
      await channel.checkQueue(this.names.queue(queue)).then(
        () => channel.close(),
        (error: unknown) => (missing = error),
      );
    } catch {
      return;
    }
    if (missing === undefined) this.knownQueues.add(queue);
    else if ((missing as { code?: unknown }).code === 404) {
      throw new ConfigError(`amqp queue ${this.names.queue(queue)} does not exist; declare() it first`, { cause: missing });
    }
  }
}

function positiveInteger(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 1) throw new ConfigError(`amqp ${what} must be a positive integer, got ${value}`);
  return value;
}
