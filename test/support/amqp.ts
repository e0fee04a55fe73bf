/**
 * Test support for the shared RabbitMQ (127.0.0.1:5672, or `BRAID_AMQP_URL`): the URL, `rabbitmqctl` on that
 * server, and a janitor that empties or deletes what apps declared under prefixes of one random run prefix.
 * Tests never touch names outside their own prefix.
 *
 * @example
 * const janitor = new AmqpJanitor(`braidtest_${hex}`);
 * const prefix = janitor.prefix('1');                 // braidtest_<hex>_1
 * ... an app under that prefix declares queues ...
 * await janitor.empty(prefix, ['default']);          // purge its queues, keep them for the next test
 * await janitor.remove(prefix, ['default', 'other']); // delete its work queues and the shared topology
 * await janitor.close();
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { connect, type ChannelModel } from 'amqplib';
import { delayLevels } from '../../src/brokers/amqp/delay.js';
import { deleteTopology, topologyNames } from '../../src/brokers/amqp/topology.js';

/** URL of the shared RabbitMQ the tests use. */
export const AMQP_URL = process.env.BRAID_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** Host and port of {@link AMQP_URL}. */
export function amqpAddress(): { host: string; port: number } {
  const url = new URL(AMQP_URL);
  return { host: url.hostname, port: Number(url.port || 5672) };
}

/** `rabbitmqctl -q -s <args>` against the shared server (Debian's wrapper runs it as the rabbitmq user). */
export async function sharedRabbitmqctl(...args: string[]): Promise<string> {
  return (await promisify(execFile)('rabbitmqctl', ['-q', '-s', ...args], { timeout: 120_000 })).stdout;
}

/** Empties or deletes topologies declared under prefixes of one random run prefix. */
export class AmqpJanitor {
  private model: Promise<ChannelModel> | undefined;

  constructor(readonly runPrefix: string) {}

  /** A prefix under the run prefix (`<run>_<suffix>`). */
  prefix(suffix: string): string {
    return `${this.runPrefix}_${suffix}`;
  }

  /** Deletes these work queues of `prefix` and its shared topology (delay levels, dead queue, exchanges). */
  async remove(prefix: string, queues: readonly string[]): Promise<void> {
    await deleteTopology(await (this.model ??= connect(AMQP_URL)), topologyNames(prefix), queues);
  }

  /**
   * Empties these work queues of `prefix`, its dead queue and its delay levels (the topology stays declared,
   * so the prefix can serve another test at the cost of a re-assert instead of a fresh declare).
   */
  async empty(prefix: string, queues: readonly string[]): Promise<void> {
    const names = topologyNames(prefix);
    const targets = [...queues.map((queue) => names.queue(queue)), names.dead, ...Array.from({ length: delayLevels }, (_, level) => names.delay(level))];
    const model = await (this.model ??= connect(AMQP_URL));
    const channels = await Promise.all([0, 1, 2, 3].map(() => model.createChannel()));
    try {
      await Promise.all(channels.map(async (channel, lane) => {
        channel.on('error', () => undefined);
        for (let i = lane; i < targets.length; i += channels.length) await channel.purgeQueue(targets[i]!);
      }));
    } finally {
      await Promise.all(channels.map((channel) => channel.close().catch(() => undefined)));
    }
  }

  /** Closes the janitor's connection. */
  async close(): Promise<void> {
    const model = this.model;
    this.model = undefined;
    if (model) await (await model).close().catch(() => undefined);
  }
}
