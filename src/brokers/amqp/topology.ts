/**
 * Names and arguments of everything the AMQP broker declares under its prefix, and the declaring itself.
 *
 * | name | kind | role |
 * |---|---|---|
 * | `${prefix}.${queue}` | queue (quorum or classic) | work queue; DLX `${prefix}.dlx`; quorum: `x-delivery-limit`; classic: `x-max-priority` 9 |
 * | `${prefix}.dlx` | fanout exchange | dead-letter exchange of every queue, routes to `${prefix}.dead` |
 * | `${prefix}.dead` | classic queue | dead letters, read without loss by `deadLetters()` (no delivery limit, see below) |
 * | `${prefix}.route` | headers exchange | end of a delay: header `braid-queue` → work queue; unroutable → `${prefix}.dlx` |
 * | `${prefix}.delay.N` | queue + headers exchange | delay level N (0-30): queue TTL 2^N ms, see delay.ts |
 *
 * The dead queue is classic on purpose: reading it (`basic.get` then requeue) counts as a delivery, so a quorum
 * dead queue with a delivery limit would drop dead letters after a few inspections.
 */
import type { Channel, ChannelModel } from 'amqplib';
import { ConfigError } from '../../core/errors.js';
import type { AmqpQueueType } from './options.js';
import { delayBitHeader, delayLevels, routeHeader } from './delay.js';

/** Highest priority on classic queues (`x-max-priority`); `PublishOptions.priority` is 0-9. */
export const maxPriority = 9;

/** The names under one prefix. */
export interface TopologyNames {
  prefix: string;
  queue(name: string): string;
  dead: string;
  dlx: string;
  route: string;
  /** Queue and exchange of delay level `level` (they share the name: queues and exchanges are separate). */
  delay(level: number): string;
}

/** Names under `prefix`. */
export function topologyNames(prefix: string): TopologyNames {
  return {
    prefix,
    queue: (name) => `${prefix}.${name}`,
    dead: `${prefix}.dead`,
    dlx: `${prefix}.dlx`,
    route: `${prefix}.route`,
    delay: (level) => `${prefix}.delay.${level}`,
  };
}

/** What `declareTopology` needs to know. */
export interface TopologySettings {
  names: TopologyNames;
  queueType: AmqpQueueType;
  deliveryLimit: number;
}

/** Refuses queue names that collide with the broker's own names or break AMQP limits. */
export function checkQueueName(names: TopologyNames, queue: string): void {
  if (queue.length === 0 || queue === 'dead' || queue === 'dlx' || queue === 'route' || /^delay\.\d+$/.test(queue)) {
    throw new ConfigError(`queue name ${JSON.stringify(queue)} is empty or reserved by the amqp broker (dead, dlx, route, delay.N)`);
  }
  if (Buffer.byteLength(names.queue(queue)) > 255) throw new ConfigError(`queue name ${names.queue(queue)} is longer than 255 bytes`);
}

/**
 * Arguments of a work queue. Quorum: explicit `x-delivery-limit` (RabbitMQ 3.x has none by default, D7) and
 * at-least-once dead-lettering (needs `x-overflow: reject-publish`; no max length is set, so nothing is
 * rejected). Classic: `x-max-priority`. Both: the DLX.
 */
export function workQueueArguments(settings: TopologySettings): Record<string, unknown> {
  const args: Record<string, unknown> = { 'x-queue-type': settings.queueType, 'x-dead-letter-exchange': settings.names.dlx };
  if (settings.queueType === 'quorum') {
    Object.assign(args, { 'x-delivery-limit': settings.deliveryLimit, 'x-dead-letter-strategy': 'at-least-once', 'x-overflow': 'reject-publish' });
  } else {
    args['x-max-priority'] = maxPriority;
  }
  return args;
}

/**
 * Arguments of delay level `level`: TTL 2^level ms, then dead-lettered into the next exchange down. Nobody
 * consumes a delay queue; quorum ones still get the delivery limit, as every quorum queue braid declares.
 */
export function delayQueueArguments(settings: TopologySettings, level: number): Record<string, unknown> {
  const next = level === 0 ? settings.names.route : settings.names.delay(level - 1);
  const args: Record<string, unknown> = { 'x-queue-type': settings.queueType, 'x-message-ttl': 2 ** level, 'x-dead-letter-exchange': next };
  if (settings.queueType === 'quorum') {
    Object.assign(args, { 'x-delivery-limit': settings.deliveryLimit, 'x-dead-letter-strategy': 'at-least-once', 'x-overflow': 'reject-publish' });
  }
  return args;
}

/** Arguments of the dead queue: classic, durable, and the end of the line (no DLX, no limit). */
export function deadQueueArguments(): Record<string, unknown> {
  return { 'x-queue-type': 'classic' };
}

/** Channels a declare or delete spreads its operations over (amqplib runs one RPC at a time per channel). */
export const topologyChannels = 4;

type Step = (channel: Channel) => Promise<unknown>;

/**
 * Runs independent steps on up to `width` channels of `model` at once, each channel taking the next step as
 * it finishes one, then closes the channels. The first failure stops the remaining steps and is thrown.
 */
async function onChannels(model: ChannelModel, steps: readonly Step[], width = topologyChannels): Promise<void> {
  const todo = [...steps];
  let failure: { error: unknown } | undefined;
  const lane = async (): Promise<void> => {
    let channel: Channel | undefined;
    try {
      channel = await model.createChannel();
      channel.on('error', () => undefined);
      for (let step = todo.shift(); step && !failure; step = todo.shift()) await step(channel);
    } catch (error) {
      failure ??= { error };
    } finally {
      await channel?.close().catch(() => undefined);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, todo.length) }, lane));
  if (failure) throw failure.error;
}

/**
 * Declares the shared part (dead queue, DLX, route and delay levels; skipped with `shared: false`) and the
 * given work queues, on a few channels at once (the 31 delay levels are independent of each other: an
 * alternate or dead-letter exchange need not exist when it is named). Idempotent; a queue that exists with
 * other arguments (another `queueType` or `deliveryLimit`) closes its channel with `PRECONDITION_FAILED`,
 * reported as `ConfigError`.
 */
export async function declareTopology(
  model: ChannelModel,
  settings: TopologySettings,
  queues: readonly string[],
  options: { shared: boolean } = { shared: true },
): Promise<void> {
  const { names } = settings;
  try {
    if (options.shared) await onChannels(model, sharedSteps(settings));
    // Work queues bind to the route exchange, which exists from here on.
    await onChannels(model, queues.map((queue) => async (channel: Channel) => {
      await channel.assertQueue(names.queue(queue), { durable: true, arguments: workQueueArguments(settings) });
      await channel.bindQueue(names.queue(queue), names.route, '', { 'x-match': 'all', [routeHeader]: queue });
    }));
  } catch (cause) {
    const hint = /PRECONDITION/.test(String(cause)) ? ' (a queue exists with other arguments: same queueType and deliveryLimit everywhere, or delete it)' : '';
    throw new ConfigError(`amqp declare failed under prefix ${names.prefix}${hint}: ${String(cause)}`, { cause });
  }
}

function sharedSteps(settings: TopologySettings): Step[] {
  const { names } = settings;
  const steps: Step[] = [async (channel) => {
    await channel.assertExchange(names.dlx, 'fanout', { durable: true });
    await channel.assertQueue(names.dead, { durable: true, arguments: deadQueueArguments() });
    await channel.bindQueue(names.dead, names.dlx, '');
    await channel.assertExchange(names.route, 'headers', { durable: true, alternateExchange: names.dlx });
  }];
  for (let level = 0; level < delayLevels; level++) {
    const next = level === 0 ? names.route : names.delay(level - 1);
    steps.push(async (channel) => {
      await channel.assertExchange(names.delay(level), 'headers', { durable: true, alternateExchange: next });
      await channel.assertQueue(names.delay(level), { durable: true, arguments: delayQueueArguments(settings, level) });
      await channel.bindQueue(names.delay(level), names.delay(level), '', { 'x-match': 'all', [delayBitHeader(level)]: 1 });
    });
  }
  return steps;
}

/** Deletes the given work queues and everything shared under the prefix, delayed messages and dead letters included. */
export async function deleteTopology(model: ChannelModel, names: TopologyNames, queues: readonly string[]): Promise<void> {
  const steps: Step[] = queues.map((queue) => (channel) => channel.deleteQueue(names.queue(queue)));
  for (let level = 0; level < delayLevels; level++) {
    steps.push(async (channel) => {
      await channel.deleteQueue(names.delay(level));
      await channel.deleteExchange(names.delay(level));
    });
  }
  steps.push(async (channel) => {
    await channel.deleteExchange(names.route);
    await channel.deleteQueue(names.dead);
    await channel.deleteExchange(names.dlx);
  });
  await onChannels(model, steps);
}
