/**
 * The parts an app's runtime pieces share: store, broker, registry, logger, limits, randomness, counters,
 * and publishing ready nodes (publishing always comes after the transition that made them ready, inv 4).
 */
import type { Logger } from 'pino';
import type { Broker } from '../brokers/broker.js';
import type { ReadyNode, Store } from '../stores/store.js';
import { encodeEnvelope } from './envelope.js';
import type { Limits } from './limits.js';
import type { TaskRegistry } from './registry.js';

/** Counts of notable events by name (reason codes, outcomes); read by metrics and tests. */
export class Counters {
  private readonly counts = new Map<string, number>();

  /** Adds `by` (default 1) to a counter. */
  add(name: string, by = 1): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + by);
  }

  /** The current value of a counter (0 when never counted). */
  get(name: string): number {
    return this.counts.get(name) ?? 0;
  }

  /** Every counter. */
  all(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }
}

/** Shared runtime parts of one app. */
export interface Kernel {
  store: Store;
  broker: Broker;
  registry: TaskRegistry;
  logger: Logger;
  limits: Limits;
  random: () => number;
  counters: Counters;
}

/** Queues declared through {@link declareQueues}, per broker instance (a reconnected app has a new broker). */
const declaredQueues = new WeakMap<Broker, Map<string, Promise<void>>>();

/**
 * Makes sure the broker has these queues before anything is published to them: RabbitMQ refuses a publish to
 * a queue never declared (RELIABILITY D6), so a node must not become ready on a queue nobody declared. Each
 * queue is declared once per broker instance; concurrent callers share the declaration; a failed one is retried
 * by the next caller.
 */
export async function declareQueues(kernel: Kernel, queues: Iterable<string>): Promise<void> {
  const { broker } = kernel;
  let known = declaredQueues.get(broker);
  if (!known) declaredQueues.set(broker, (known = new Map()));
  const wanted = [...new Set(queues)];
  const fresh = wanted.filter((queue) => !known.has(queue));
  if (fresh.length > 0) {
    const declaring = broker.declare(fresh);
    for (const queue of fresh) {
      known.set(queue, declaring.catch((error: unknown) => {
        known.delete(queue);
        throw error;
      }));
    }
  }
  await Promise.all(wanted.map((queue) => known.get(queue)));
}

const PUBLISH_BATCH = 500;

/** Publishes a message for each ready node, in batches; resolves once the broker holds them all. */
export async function publishReady(kernel: Kernel, ready: readonly ReadyNode[]): Promise<void> {
  for (let i = 0; i < ready.length; i += PUBLISH_BATCH) {
    await Promise.all(ready.slice(i, i + PUBLISH_BATCH).map((node) => kernel.broker.publish(
      node.queue,
      encodeEnvelope(node),
      { ...(node.delayMs > 0 ? { delayMs: node.delayMs } : {}), ...(node.priority !== undefined ? { priority: node.priority } : {}) },
    )));
  }
  kernel.counters.add('published', ready.length);
}
