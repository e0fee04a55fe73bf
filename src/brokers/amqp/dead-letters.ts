/**
 * The dead queue `${prefix}.dead`: what goes in and how it is read without loss.
 *
 * Two kinds of message land there: copies published by `Delivery.deadLetter` (headers `braid-reason`,
 * `braid-detail`, `braid-queue`, `braid-at`), and messages RabbitMQ dead-letters through `${prefix}.dlx`
 * (`x-death`: `delivery_limit` past `x-delivery-limit`, or a delayed message whose work queue no longer
 * exists, reported as `no_queue_after_delay`). Reading takes messages with `basic.get` (unacked) and then
 * requeues them all (`nack` with requeue): a classic queue puts them back where they were.
 */
import type { ChannelModel, GetMessage } from 'amqplib';
import type { DeadLetter } from '../broker.js';
import { routeHeader } from './delay.js';
import type { TopologyNames } from './topology.js';

/** Header names of the copies published by `Delivery.deadLetter`. */
export const deadHeaders = { reason: 'braid-reason', detail: 'braid-detail', queue: routeHeader, at: 'braid-at' } as const;

/** Most messages one `deadLetters()` call reads from the queue before sorting (newest first). */
export const deadLetterScanLimit = 10_000;

/** Reads up to {@link deadLetterScanLimit} dead letters, puts them all back, returns the newest `limit` ([] when no dead queue). */
export async function peekDeadLetters(model: ChannelModel, names: TopologyNames, limit: number): Promise<DeadLetter[]> {
  const channel = await model.createChannel();
  channel.on('error', () => undefined);
  const letters: DeadLetter[] = [];
  try {
    const found = await channel.checkQueue(names.dead).catch((error: unknown) => {
      if ((error as { code?: unknown }).code === 404) return undefined;
      throw error;
    });
    if (found === undefined) return [];
    const { messageCount } = found;
    for (let i = 0; i < Math.min(messageCount, deadLetterScanLimit); i++) {
      const message = await channel.get(names.dead, { noAck: false });
      if (message === false) break;
      letters.push(toDeadLetter(names, message));
    }
    channel.nackAll(true);
  } finally {
    await channel.close().catch(() => undefined);
  }
  // Queue order is arrival order: reverse it, then a stable sort by time keeps ties newest first.
  return letters.reverse().sort((a, b) => b.at - a.at).slice(0, limit);
}

/** Turns one message of the dead queue into a `DeadLetter`. */
export function toDeadLetter(names: TopologyNames, message: GetMessage): DeadLetter {
  const headers: Record<string, unknown> = message.properties.headers ?? {};
  const body = message.content.toString('utf8');
  const reason = headers[deadHeaders.reason];
  if (typeof reason === 'string') {
    const letter: DeadLetter = { queue: text(headers[deadHeaders.queue]), reason, body, at: Number(headers[deadHeaders.at]) || 0 };
    const detail = headers[deadHeaders.detail];
    if (typeof detail === 'string') letter.detail = detail;
    return letter;
  }
  const deaths = headers['x-death'];
  const death: Record<string, unknown> = Array.isArray(deaths) && typeof deaths[0] === 'object' && deaths[0] !== null ? deaths[0] : {};
  const from = text(death.queue);
  const fromDelay = from.startsWith(`${names.prefix}.delay.`);
  const letter: DeadLetter = {
    queue: fromDelay ? text(headers[routeHeader]) : stripPrefix(names, from),
    reason: fromDelay ? 'no_queue_after_delay' : text(death.reason) || 'unknown',
    body,
    at: timestampMs(death.time) ?? timestampMs(message.properties.timestamp) ?? 0,
  };
  return letter;
}

function stripPrefix(names: TopologyNames, queue: string): string {
  return queue.startsWith(`${names.prefix}.`) ? queue.slice(names.prefix.length + 1) : queue;
}

function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return '';
}

/** AMQP timestamps are seconds; amqplib decodes those in tables as `{ '!': 'timestamp', value }`. */
function timestampMs(value: unknown): number | undefined {
  if (typeof value === 'number') return value * 1000;
  if (typeof value === 'object' && value !== null && typeof (value as { value?: unknown }).value === 'number') {
    return (value as { value: number }).value * 1000;
  }
  return undefined;
}
