/**
 * The parts an app's runtime pieces share: store, broker, registry, logger, limits, randomness, counters,
 * and publishing ready nodes (publishing always comes after the transition that made them ready, inv 4).
 */
import type { Logger } from 'pino';
import type { Broker, PublishOptions } from '../brokers/broker.js';
import type { QueuePush } from '../core/queue-push.js';
import { rootMessages } from './step/create.js';
import type { ReadyNode, Store, StoredGraph } from '../stores/store.js';
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
/** Of those, the queues whose declaration has succeeded: a graph routed only to these needs no wait. */
const declaredDone = new WeakMap<Broker, Set<string>>();

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
    declaring.then(() => {
      let done = declaredDone.get(broker);
      if (!done) declaredDone.set(broker, (done = new Set()));
      for (const queue of fresh) done.add(queue);
    }, () => undefined);
    for (const queue of fresh) {
      known.set(queue, declaring.catch((error: unknown) => {
        known.delete(queue);
        throw error;
      }));
    }
  }
  await Promise.all(wanted.map((queue) => known.get(queue)));
}

/**
 * {@link declareQueues} for every queue a graph's nodes and errbacks route to; `undefined` (nothing to wait
 * for) when each of them was declared already, the usual case once an app has run a while.
 */
export function declareGraphQueues(kernel: Kernel, graph: StoredGraph): Promise<void> | undefined {
  const done = declaredDone.get(kernel.broker);
  if (done && graph.nodes.every((n) => done.has(n.dispatch.queue)) && graph.errbacks.every((e) => done.has(e.dispatch.queue))) return undefined;
  return declareQueues(kernel, [...graph.nodes, ...graph.errbacks].map((n) => n.dispatch.queue));
}

const PUBLISH_BATCH = 500;
const published: Promise<void> = Promise.resolve();

/**
 * Publishes a message for each ready node, in batches; resolves once the broker holds them all. Nothing ready
 * costs no promise of its own.
 */
export function publishReady(kernel: Kernel, ready: readonly ReadyNode[]): Promise<void> {
  if (ready.length === 0) {
    kernel.counters.add('published', 0);
    return published;
  }
  return publishAll(kernel, ready);
}

async function publishAll(kernel: Kernel, ready: readonly ReadyNode[]): Promise<void> {
  if (ready.length === 1) await publishOne(kernel, ready[0]!);
  else {
    for (let i = 0; i < ready.length; i += PUBLISH_BATCH) {
      const batch = ready.length <= PUBLISH_BATCH ? ready : ready.slice(i, i + PUBLISH_BATCH);
      await Promise.all(batch.map((node) => publishOne(kernel, node)));
    }
  }
  kernel.counters.add('published', ready.length);
}

function publishOne(kernel: Kernel, node: ReadyNode): Promise<void> {
  const body = encodeEnvelope(node);
  if (node.delayMs <= 0 && node.priority === undefined) return kernel.broker.publish(node.queue, body);
  return kernel.broker.publish(node.queue, body, publishOptions(node));
}

/** The options of a message due now without a priority (most of them): one object for all. */
const IMMEDIATE: PublishOptions = Object.freeze({});

function publishOptions(node: ReadyNode): PublishOptions {
  if (node.delayMs <= 0 && node.priority === undefined) return IMMEDIATE;
  return { ...(node.delayMs > 0 ? { delayMs: node.delayMs } : {}), ...(node.priority !== undefined ? { priority: node.priority } : {}) };
}

/**
 * When store and broker are on one Redis server, the store's claims ride in the block a broker consumer writes
 * right after handing their deliveries out (Store.rideWith, Broker.carrier): one socket write instead of two
 * for an idle worker's next node.
 */
export function joinCarrier(store: Store, broker: Broker): void {
  if (store.rideWith && broker.carrier && store.serverUrl !== undefined && store.serverUrl === broker.serverUrl) store.rideWith(broker.carrier);
}

/**
 * Stores a new workflow and publishes its roots; resolves with whether it was created. When store and broker
 * are on one Redis server, the publishes ride behind the create on the store's connection, in the same write
 * (Store.createAndSend, Broker.pushFor): Redis runs them after the create, so no message can be taken before
 * its workflow exists (inv 4), and a start costs one round trip instead of two. A start that finds the
 * workflow existing then has published its roots again: duplicates, harmless (inv 2). Otherwise, or when a
 * root needs the broker itself (a countdown), create, then publish.
 */
export function createAndPublish(kernel: Kernel, workflowId: string, graph: StoredGraph): Promise<boolean> {
  const { store, broker } = kernel;
  if (store.createAndSend && broker.pushFor && store.serverUrl !== undefined && store.serverUrl === broker.serverUrl) {
    const roots = rootMessages(workflowId, graph);
    const pushes: QueuePush[] = [];
    for (const root of roots) {
      const push = broker.pushFor(root.queue, encodeEnvelope(root), publishOptions(root));
      if (push === undefined) break;
      pushes.push(push);
    }
    const published = roots.length;
    if (published > 0 && pushes.length === published) {
      // Not awaited in an async frame, which would keep the graph, the roots and the pushes until the reply.
      return store.createAndSend(workflowId, graph, pushes).then(({ created }) => {
        kernel.counters.add('published', published);
        return created;
      });
    }
  }
  return createThenPublish(kernel, workflowId, graph);
}

/** The create, then the publishes of its roots (a store and a broker on different servers, or a countdown). */
async function createThenPublish(kernel: Kernel, workflowId: string, graph: StoredGraph): Promise<boolean> {
  const { created, ready } = await kernel.store.create(workflowId, graph);
  if (ready.length > 0) await publishReady(kernel, ready);
  return created;
}
