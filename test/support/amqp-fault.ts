/**
 * RabbitMQ as the broker of the fault harness (fault-harness.ts `FaultEnvOptions.broker`), the store staying
 * the Redis under test: on a private node (test/support/rabbit-node.ts), where broker-level faults are
 * allowed, or on the shared server, where a scenario may only close its own connections (RELIABILITY §4).
 *
 * @example
 * const node = await RabbitNode.start();
 * const env = await FaultEnv.start({ name: 'f4', broker: privateNodeBroker(node), concurrency: 10 });
 */
import { connect } from 'amqplib';
import { delayLevels } from '../../src/brokers/amqp/delay.js';
import { deleteTopology, topologyNames } from '../../src/brokers/amqp/topology.js';
import { AMQP_URL, sharedRabbitmqctl } from './amqp.js';
import type { BrokerUnderTest } from './fault-harness.js';
import { FAULT_QUEUES } from './fault-tasks.js';
import type { RabbitNode } from './rabbit-node.js';

/** Splits `messages` per queue of a prefix into held (work and delay queues) and dead letters. */
function split(prefix: string, messages: Map<string, number>): { left: number; dead: number } {
  let left = 0;
  let dead = 0;
  for (const [name, n] of messages) {
    if (!name.startsWith(`${prefix}.`)) continue;
    if (name === `${prefix}.dead`) dead += n;
    else left += n;
  }
  return { left, dead };
}

/** Every queue braid declares under `prefix` for the fault workers: work queues and delay levels (not the dead queue). */
export function braidQueues(prefix: string): string[] {
  const names = topologyNames(prefix);
  return [...FAULT_QUEUES.map((queue) => names.queue(queue)), ...Array.from({ length: delayLevels }, (_, level) => names.delay(level))];
}

/** The broker on a private node (the scenario stops the node itself). */
export function privateNodeBroker(node: RabbitNode): BrokerUnderTest {
  return {
    url: node.url,
    counts: async (prefix) => split(prefix, await node.queues(`${prefix}.`)),
    cleanup: async () => undefined,
  };
}

/** The broker on the shared server: counts through `rabbitmqctl list_queues`, cleanup deletes the prefix's topology. */
export function sharedServerBroker(): BrokerUnderTest {
  return {
    url: AMQP_URL,
    counts: async (prefix) => {
      const messages = new Map<string, number>();
      for (const line of (await sharedRabbitmqctl('list_queues', 'name', 'messages')).split('\n')) {
        const [name, n] = line.trim().split('\t');
        if (name && n !== undefined) messages.set(name, Number(n));
      }
      return split(prefix, messages);
    },
    cleanup: async (prefix) => {
      const model = await connect(AMQP_URL);
      try {
        await deleteTopology(model, topologyNames(prefix), FAULT_QUEUES);
      } finally {
        await model.close().catch(() => undefined);
      }
    },
  };
}

/**
 * Closes the connections of apps under `prefix` on the shared server (found by their client-provided name
 * `braid:<prefix>:<role>:…`; nobody else's) and returns how many it closed.
 */
export async function closeOwnConnections(prefix: string, reason = 'braid fault test: connection cut'): Promise<number> {
  const rows = (await sharedRabbitmqctl('list_connections', 'pid', 'client_properties')).split('\n');
  const ours = rows.filter((row) => row.includes(`{"connection_name","braid:${prefix}:`)).map((row) => row.split('\t')[0]!);
  for (const pid of ours) await sharedRabbitmqctl('close_connection', pid, reason).catch(() => undefined);
  return ours.length;
}

/**
 * Purges these queues (`queue.purge` over AMQP: one connection, exact counts, instead of one `rabbitmqctl
 * purge_queue` CLI boot per queue); returns the messages purged. Unacked deliveries are not purged.
 */
export async function purgeQueues(url: string, queues: readonly string[]): Promise<number> {
  const model = await connect(url);
  let purged = 0;
  try {
    const channel = await model.createChannel();
    for (const queue of queues) purged += (await channel.purgeQueue(queue)).messageCount;
  } finally {
    await model.close().catch(() => undefined);
  }
  return purged;
}
