/**
 * One AMQP delivery as a broker `Delivery`. Acks are manual. The first of `ack`, `deadLetter` and `release`
 * settles the delivery; later calls (of any of the three) return the same outcome and send nothing more.
 *
 * A delivery whose channel has closed (connection lost, channel closed by the server) can no longer be acked:
 * RabbitMQ has already put it back in the queue and will deliver it again with `redelivered: true`, where the
 * worker's claim turns it into ack-and-drop (RELIABILITY D5). So acking it resolves quietly, with a debug log.
 */
import type { Channel, ConsumeMessage } from 'amqplib';
import type { Logger } from 'pino';
import type { Delivery } from '../broker.js';
import { describe } from './connection.js';

/** The channel a delivery arrived on, and whether it is still open. */
export interface ChannelSession {
  readonly channel: Channel;
  alive: boolean;
}

/** What a delivery needs from its broker and consumer. */
export interface DeliveryHooks {
  /** Publishes a confirmed copy to the dead queue (with the reason in headers). */
  publishDead(queue: string, message: ConsumeMessage, reason: string, detail: string | undefined): Promise<void>;
  /** Called once when the delivery is settled (frees a prefetch slot). */
  settled(): void;
  logger: Logger;
}

/** Wraps `message` (from `queue`, on `session`) as a `Delivery`. */
export function makeDelivery(queue: string, message: ConsumeMessage, session: ChannelSession, hooks: DeliveryHooks): Delivery {
  let outcome: Promise<void> | undefined;
  let done = false;

  const send = (what: 'ack' | 'requeue'): void => {
    if (!session.alive) {
      hooks.logger.debug({ queue, what }, 'amqp channel closed before settle; the message will be redelivered');
      return;
    }
    try {
      if (what === 'ack') session.channel.ack(message);
      else session.channel.nack(message, false, true);
    } catch (error) {
      hooks.logger.debug({ queue, what, err: describe(error) }, 'amqp settle failed; the message will be redelivered');
    }
  };

  const settle = (operation: () => Promise<void>): Promise<void> => {
    if (done) return Promise.resolve();
    outcome ??= operation().then(
      () => {
        done = true;
        hooks.settled();
      },
      (error: unknown) => {
        outcome = undefined;
        throw error;
      },
    );
    return outcome;
  };

  return {
    queue,
    body: message.content,
    redelivered: message.fields.redelivered,
    ack: () => settle(async () => send('ack')),
    release: () => settle(async () => send('requeue')),
    deadLetter: (reason: string, detail?: string) =>
      settle(async () => {
        await hooks.publishDead(queue, message, reason, detail);
        send('ack');
      }),
  };
}
