/**
 * Handles one delivery from start to ack: check the body, claim the node in the store, run the handler under
 * a renewed lease, commit the outcome, publish what became ready, then ack (acksLate, the default) — in that
 * order, so a crash at any point costs a redelivery or a sweep, never a node (DESIGN inv 2, 4, 6).
 * Bad input never throws out of here (inv 10).
 */
import { randomUUID } from 'node:crypto';
import { CanvasError, toErrorInfo, UnknownTaskError } from '../core/errors.js';
import type { Delivery, Envelope } from '../brokers/broker.js';
import type { ClaimedNode, CommitResult, ContinuedNode, ContinueRequest } from '../stores/store.js';
import type { ResolvedOptions } from '../core/options.js';
import { AttemptContext } from './context.js';
import { crashPoint } from './crash-points.js';
import { decide, type Decision } from './decide.js';
import { decodeEnvelope, encodeEnvelope } from './envelope.js';
import { buildStoredGraph } from './fragment.js';
import { declareGraphQueues, publishReady, type Kernel } from './kernel.js';
import { Lease } from './lease.js';
import { ContinuedDelivery } from './continued-delivery.js';
import { commitCounter } from './counter-names.js';
import { runHandler, Stopper } from './run-handler.js';
import type { RunningAttempts } from './running.js';
import { withStoreRetries } from './store-retry.js';

/** Raised through `ctx.signal` when a worker shuts down and hands the node back. */
export const SHUTDOWN = Symbol('braid.shutdown');

/**
 * How a worker lets a completion hand it the next node to run (store.ts ContinueRequest): a chain's next step
 * or a chord's body then runs on the worker that finished the step before it, claimed in that same store step,
 * with no message published, taken and claimed in between.
 */
export interface Continuations {
  /** The worker's queues, or `'*'` for any. */
  readonly queues: readonly string[] | '*';
  /** Whether the worker takes more work (not closing) and can hold a slot for it. */
  accepting(): boolean;
  /** Holds a prefetch slot for a continuation (Consumer.hold); undefined when none can be held now. */
  hold(): (() => void) | undefined;
}

/** One claimed node to run, and what it came with. */
interface Claimed {
  delivery: Delivery;
  envelope: Envelope;
  node: ClaimedNode;
  token: string;
}

/** Handles deliveries for one worker. */
export class DeliveryHandler {
  /**
   * Claim tokens are this random prefix and a counter: unique per claim like a UUID each, for a fraction of the
   * cost (a token only has to differ from every other claim's; it never leaves this worker and the store).
   */
  private readonly tokenPrefix = randomUUID();
  private tokens = 0;

  constructor(
    private readonly kernel: Kernel,
    private readonly leaseMs: number,
    /** In-flight attempts by workflow id, so a cancel notification or a shutdown can stop them at once. */
    private readonly running: RunningAttempts,
    /** Where completions may hand this worker its next node; without it every ready node is published. */
    private readonly continuations?: Continuations,
  ) {}

  private nextToken(): string {
    return `${this.tokenPrefix}.${(++this.tokens).toString(36)}`;
  }

  /** Processes one delivery; never throws. */
  async handle(delivery: Delivery): Promise<void> {
    try {
      await this.process(delivery);
    } catch (error) {
      this.kernel.logger.error({ err: error, queue: delivery.queue }, 'delivery failed unexpectedly; handing it back');
      await delivery.release().catch(() => undefined);
    }
  }

  private async process(delivery: Delivery): Promise<void> {
    const { logger, counters, limits } = this.kernel;
    const decoded = decodeEnvelope(delivery.body, limits.messageBytes);
    if (!('envelope' in decoded)) {
      counters.add(`dead_letter.${decoded.reason}`);
      logger.warn({ reason: decoded.reason, detail: decoded.detail, queue: delivery.queue }, 'message dead-lettered');
      await delivery.deadLetter(decoded.reason, decoded.detail);
      return;
    }
    const envelope = decoded.envelope;
    const token = this.nextToken();
    const request = { workflowId: envelope.workflowId, nodeId: envelope.nodeId, attempt: envelope.attempt, task: envelope.task, token, leaseMs: this.leaseMs };
    const claim = await withStoreRetries(this.kernel, 'claim', () => this.kernel.store.claim(request));
    switch (claim.status) {
      case 'orphan':
      case 'stale':
        counters.add(claim.status);
        logger.debug({ workflowId: envelope.workflowId, nodeId: envelope.nodeId, attempt: envelope.attempt }, `${claim.status} message dropped`);
        await delivery.ack();
        return;
      case 'forged':
        counters.add('dead_letter.forged_or_corrupt');
        logger.warn({ workflowId: envelope.workflowId, nodeId: envelope.nodeId, task: envelope.task }, 'message task differs from the stored node');
        await delivery.deadLetter('forged_or_corrupt', `task ${envelope.task} does not match the stored node`);
        return;
      case 'early':
        await this.kernel.broker.publish(delivery.queue, encodeEnvelope(envelope), { delayMs: claim.delayMs });
        await delivery.ack();
        return;
      case 'claimed': {
        // A node and then each continuation its completion hands back, in turn, on this one slot.
        let claimed: Claimed | undefined = { delivery, envelope, node: claim.node, token };
        while (claimed) {
          crashPoint('after-claim-before-start');
          claimed = await this.runClaimed(claimed);
        }
      }
    }
  }

  /** Runs a claimed node and stores its outcome; returns the continuation to run next, if its completion made one. */
  private async runClaimed({ delivery, envelope, node, token }: Claimed): Promise<Claimed | undefined> {
    const { registry, logger, counters, limits } = this.kernel;
    const { workflowId, nodeId } = envelope;
    const options = registry.resolve(node.task, node.options);
    if (!options.acksLate) await delivery.ack();
    const ctx = new AttemptContext(workflowId, nodeId, node.task, node.retries + 1, logger);
    const outside = new Stopper();
    const lease = new Lease(this.kernel, { workflowId, nodeId, token, leaseMs: this.leaseMs }, (reason) => outside.stop(reason));
    this.running.add(workflowId, outside);
    let decision: Decision;
    try {
      const task = registry.get(node.task);
      if (!task) {
        decision = { kind: 'fail', error: toErrorInfo(new UnknownTaskError(node.task)) };
      } else {
        if (logger.isLevelEnabled('debug')) ctx.log.debug({ attempt: ctx.attempt }, 'task started');
        const raw = await runHandler(task.handler, ctx, node.args, options, outside);
        decision = decide(raw, { options, retries: node.retries, resultBytes: limits.resultBytes, jsonDepth: limits.jsonDepth, random: this.kernel.random });
      }
    } finally {
      lease.stop();
      this.running.delete(workflowId, outside);
    }
    if (decision.kind === 'abandon') {
      counters.add('abandoned');
      if (decision.reason === SHUTDOWN) await this.handBack(delivery, workflowId, nodeId, token);
      else if (options.acksLate) await delivery.ack();
      return undefined;
    }
    const next = decision.kind === 'complete' && this.continuations?.accepting() ? this.continueRequest(this.continuations) : undefined;
    const result = await this.commit(decision, workflowId, nodeId, token, node, options, next);
    counters.add(commitCounter(decision.kind, result.status));
    if (result.status === 'stale') ctx.log.warn({ event: 'stale_commit', outcome: decision.kind }, 'stale_commit: the claim was lost; result dropped');
    else if (decision.kind === 'fail') ctx.log.warn({ err: decision.error }, 'task failed');
    else if (decision.kind === 'retry') ctx.log.info({ err: decision.error, delayMs: decision.delayMs }, 'task will retry');
    crashPoint('after-commit-before-publish');
    if (result.ready.length > 0) await publishReady(this.kernel, result.ready);
    crashPoint('after-commit-before-ack');
    // The continuation's slot is held before this delivery's is freed, so the worker never runs more than its
    // concurrency (and never fewer while a continuation waits).
    const continued = result.next && next ? await this.continued(result.next, next.token) : undefined;
    if (options.acksLate) await delivery.ack();
    return continued;
  }

  private continueRequest(continuations: Continuations): ContinueRequest {
    return { token: this.nextToken(), leaseMs: this.leaseMs, queues: continuations.queues };
  }

  /**
   * The continuation a completion claimed for this worker, on a slot held for it; when no slot can be held now
   * (the worker is closing), it is handed back at once like a node let go of at shutdown.
   */
  private async continued(next: ContinuedNode, token: string): Promise<Claimed | undefined> {
    const { workflowId, nodeId, attempt, task } = next.message;
    const free = this.continuations?.hold();
    if (!free) {
      await this.handBack(new ContinuedDelivery(next, () => undefined), workflowId, nodeId, token);
      return undefined;
    }
    this.kernel.counters.add('continued');
    return { delivery: new ContinuedDelivery(next, free), envelope: { v: 1, workflowId, nodeId, attempt, task }, node: next.node, token };
  }

  /**
   * A node this stopping worker let go of (shutdown grace over): the store hands it back at once (a counted
   * redelivery, as when a lease lapses, or WorkerLostError past maxRedeliveries) and its new message is
   * published, so it runs elsewhere without waiting out its lease; this delivery is then done. When the store
   * cannot take it back now, the delivery goes back to its queue and the lease lapse recovers the node.
   */
  private async handBack(delivery: Delivery, workflowId: string, nodeId: string, token: string): Promise<void> {
    const released = await this.kernel.store.release({ workflowId, nodeId, token }).catch(() => undefined);
    if (released?.status !== 'ok') {
      await delivery.release();
      return;
    }
    this.kernel.counters.add('released');
    // Past maxRedeliveries the store failed the node (WorkerLostError) instead of sending it back: its own message
    // is then not among the ready ones (errbacks it fired may be), and this delivery becomes its dead-letter copy.
    const lost = !released.ready.some((ready) => ready.nodeId === nodeId);
    if (released.ready.length > 0) await publishReady(this.kernel, released.ready);
    if (lost) {
      this.kernel.counters.add('dead_letter.worker_lost');
      await delivery.deadLetter('worker_lost', `failed with WorkerLostError: handed back at shutdown past maxRedeliveries (workflow ${workflowId}, node ${nodeId})`);
    } else {
      await delivery.ack();
    }
  }

  private async commit(
    decision: Exclude<Decision, { kind: 'abandon' }>, workflowId: string, nodeId: string, token: string, node: ClaimedNode, options: ResolvedOptions,
    next: ContinueRequest | undefined,
  ): Promise<CommitResult> {
    const { store, registry, limits } = this.kernel;
    const ref = { workflowId, nodeId, token };
    switch (decision.kind) {
      case 'complete': {
        const request = { workflowId, nodeId, token, result: decision.result, ignoreResult: options.ignoreResult, ...(next ? { next } : {}) };
        return withStoreRetries(this.kernel, 'complete', () => store.complete(request));
      }
      case 'retry':
        return withStoreRetries(this.kernel, 'retry', () => store.retry({ ...ref, error: decision.error, delayMs: decision.delayMs }));
      case 'fail':
        return withStoreRetries(this.kernel, 'fail', () => store.fail({ ...ref, error: decision.error }));
      case 'replace': {
        let graph;
        try {
          const generation = nodeId.split('.').length - 1;
          if (generation >= limits.replaceGenerations) throw new CanvasError(`ctx.replace() nested more than ${limits.replaceGenerations} generations`);
          graph = buildStoredGraph(decision.canvas, registry, limits, { idPrefix: `${nodeId}.`, errbackBase: node.errbackCount, inheritedErrbacks: node.errbacks });
        } catch (error) {
          return withStoreRetries(this.kernel, 'fail', () => store.fail({ ...ref, error: toErrorInfo(error) }));
        }
        // The replacement's nodes and errbacks may route to queues nobody declared yet (RabbitMQ refuses those).
        await declareGraphQueues(this.kernel, graph);
        crashPoint('after-replace-before-commit');
        return withStoreRetries(this.kernel, 'replace', () => store.replace({ ...ref, graph }));
      }
    }
  }
}
