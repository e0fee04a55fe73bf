/**
 * A consumer on its own channel of the consuming connection: `basic.qos(prefetch)` per consumer, manual acks,
 * one `basic.consume` per queue. It re-attaches by itself: after a redial of the connection, and after a
 * channel-level close (`consumer_timeout`, queue deleted, server-side cancel), with backoff, until stopped.
 *
 * At most `prefetch` deliveries are handed to `onDelivery` and not yet settled, across all its queues and
 * across re-attaches: RabbitMQ's prefetch is per queue consumer (quorum queues refuse a channel-wide one), so
 * deliveries past the bound wait here, still unacked in the broker, until a slot frees. Deliveries that wait
 * here when their channel closes are dropped: the broker has already requeued them.
 *
 * The handed count survives a re-attach: deliveries of a lost channel still count until the worker settles
 * them (a no-op then), so a redelivery cannot push the worker past its concurrency.
 */
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import type { Logger } from 'pino';
import type { Consumer, Delivery } from '../broker.js';
import { ConfigError } from '../../core/errors.js';
import { describe, type ManagedConnection } from './connection.js';
import { makeDelivery, type ChannelSession, type DeliveryHooks } from './delivery.js';

/** What a consumer needs. */
export interface ConsumerSettings {
  connection: ManagedConnection;
  /** Logical queue names and their full AMQP names. */
  queues: ReadonlyArray<{ name: string; target: string }>;
  prefetch: number;
  /** After `stop()`, how long handed deliveries stay ackable before the channel closes (ms). */
  graceMs: number;
  onDelivery: (delivery: Delivery) => void;
  publishDead: DeliveryHooks['publishDead'];
  logger: Logger;
}

interface Waiting {
  session: ChannelSession;
  queue: string;
  message: ConsumeMessage;
}

/** A running consumption that survives connection and channel loss. */
export class AmqpConsumer implements Consumer {
  private session: (ChannelSession & { tags: string[] }) | undefined;
  private attaching = false;
  private stopped = false;
  private active = 0;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private graceTimer: NodeJS.Timeout | undefined;
  private readonly waiting: Waiting[] = [];
  private unsubscribe: () => void = () => undefined;

  constructor(private readonly settings: ConsumerSettings) {}

  /**
   * First attach; `ConfigError` when a queue does not exist (declare it first) or access is refused. A link lost
   * meanwhile (a broker restarting, `541 INTERNAL_ERROR` from a node that just started) is waited out with
   * backoff for up to {@link START_RETRY_MS}, as a worker starting during a broker hiccup should not die.
   */
  async start(): Promise<void> {
    const deadline = Date.now() + START_RETRY_MS;
    for (let attempt = 0; ; attempt++) {
      const model = await this.settings.connection.ready();
      try {
        await this.attach(model);
        break;
      } catch (cause) {
        if (isRefusal(cause) || Date.now() >= deadline) throw new ConfigError(`amqp consume failed: ${describe(cause)}`, { cause });
        this.settings.logger.warn({ err: describe(cause), attempt }, 'amqp consume failed on a lost link; retrying');
        await new Promise((resolve) => setTimeout(resolve, Math.min(2_000, 100 * 2 ** attempt)));
      }
    }
    this.unsubscribe = this.settings.connection.onReconnect(() => this.ensureAttached());
  }

  /**
   * Takes no new deliveries: cancels the consumptions and puts back the deliveries not yet handed out. Handed
   * ones stay ackable until settled, for at most `graceMs` (the consumer's `leaseMs`); then the channel
   * closes and RabbitMQ puts every unsettled one back in its queue (`redelivered: true`), where settling it
   * is a no-op. A worker therefore drains within its lease, as it would on any broker.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.unsubscribe();
    clearTimeout(this.retryTimer);
    const session = this.session;
    if (session?.alive) {
      for (const tag of session.tags) await session.channel.cancel(tag).catch(() => undefined);
    }
    for (const item of this.waiting.splice(0)) requeue(item.session, item.message);
    if (this.active === 0) await this.closeChannel();
    else this.graceTimer = setTimeout(() => void this.closeChannel(), this.settings.graceMs);
  }

  /** Stops and closes the channel now; unsettled deliveries go back to their queues. */
  async close(): Promise<void> {
    await this.stop();
    await this.closeChannel();
  }

  private async attach(model: ChannelModel): Promise<void> {
    const channel: Channel = await model.createChannel();
    const session = { channel, alive: true, tags: [] as string[] };
    channel.on('error', (error: Error) => this.settings.logger.warn({ err: describe(error) }, 'amqp consumer channel error'));
    channel.on('close', () => this.closed(session));
    try {
      await channel.prefetch(this.settings.prefetch);
      for (const queue of this.settings.queues) {
        const reply = await channel.consume(queue.target, (message) => this.receive(session, queue.name, message), { noAck: false });
        session.tags.push(reply.consumerTag);
      }
    } catch (error) {
      await channel.close().catch(() => undefined);
      throw error;
    }
    this.session = session;
  }

  private ensureAttached(): void {
    if (this.stopped || this.attaching || this.session) return;
    this.attaching = true;
    clearTimeout(this.retryTimer);
    this.settings.connection
      .ready()
      .then((model) => this.attach(model))
      .then(
        () => {
          this.attaching = false;
          this.attempt = 0;
          if (this.stopped) void this.closeChannel();
          else this.settings.logger.info({ queues: this.settings.queues.map((q) => q.name) }, 'amqp consumer re-attached');
        },
        (error: unknown) => {
          this.attaching = false;
          if (this.stopped) return;
          this.settings.logger.warn({ err: describe(error), attempt: this.attempt }, 'amqp consumer re-attach failed; retrying');
          this.scheduleAttach();
        },
      );
  }

  private scheduleAttach(): void {
    const delay = Math.min(5_000, 100 * 2 ** this.attempt) * (0.8 + Math.random() * 0.4);
    this.attempt += 1;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.ensureAttached(), delay);
  }

  private closed(session: ChannelSession): void {
    session.alive = false;
    for (let i = this.waiting.length - 1; i >= 0; i--) if (this.waiting[i]?.session === session) this.waiting.splice(i, 1);
    if (this.session !== session) return;
    this.session = undefined;
    if (!this.stopped) this.scheduleAttach();
  }

  private receive(session: ChannelSession, queue: string, message: ConsumeMessage | null): void {
    if (message === null) {
      this.settings.logger.warn({ queue }, 'amqp consumer cancelled by the server (queue deleted?); re-attaching');
      void session.channel.close().catch(() => undefined);
      return;
    }
    if (this.stopped) {
      requeue(session, message);
      return;
    }
    this.waiting.push({ session, queue, message });
    this.pump();
  }

  private pump(): void {
    while (this.active < this.settings.prefetch && this.waiting.length > 0) {
      const item = this.waiting.shift();
      if (!item || !item.session.alive) continue;
      this.hand(item);
    }
  }

  private hand({ session, queue, message }: Waiting): void {
    this.active += 1;
    const delivery = makeDelivery(queue, message, session, {
      publishDead: this.settings.publishDead,
      logger: this.settings.logger,
      settled: () => {
        this.active -= 1;
        if (!this.stopped) this.pump();
        else if (this.active === 0) void this.closeChannel();
      },
    });
    try {
      this.settings.onDelivery(delivery);
    } catch (error) {
      this.settings.logger.error({ queue, err: describe(error) }, 'onDelivery threw; releasing the delivery');
      void delivery.release().catch(() => undefined);
    }
  }

  private async closeChannel(): Promise<void> {
    clearTimeout(this.graceTimer);
    const session = this.session;
    this.session = undefined;
    if (session?.alive) await session.channel.close().catch(() => undefined);
  }
}

/** How long a first attach keeps trying through a lost link before it gives up with ConfigError. */
export const START_RETRY_MS = 30_000;

/** True for a server's refusal of the consume itself (no such queue, access refused, precondition failed). */
function isRefusal(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 403 || code === 404 || code === 406;
}

function requeue(session: ChannelSession, message: ConsumeMessage): void {
  if (!session.alive) return;
  try {
    session.channel.nack(message, false, true);
  } catch {
    // The channel closed meanwhile: RabbitMQ requeued the message itself.
  }
}
