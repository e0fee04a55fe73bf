/**
 * braid: Celery-style canvases (chain, group, chord) compiled into persisted graphs that workers advance
 * callback-style. No task waits for another, a chord is a counter, a crashed worker costs a redelivery.
 *
 * @example
 * ```ts
 * import { createApp, chain, group, chord } from 'braid';
 *
 * const app = createApp({ broker: 'redis://127.0.0.1:6379/0' });   // or memory:// (the default), amqp://
 * const fetchOrder = app.task('orders.fetch', (ctx, id: number) => ({ id, items: [1, 2, 3] }));
 * const price = app.task('orders.price', (ctx, item: number) => item * 10);
 * const total = app.task('orders.total', (ctx, prices: number[]) => prices.reduce((a, b) => a + b, 0));
 * const notify = app.task('orders.notify', (ctx, sum: number) => `charged ${sum}`, { maxRetries: 5, retryBackoff: true });
 *
 * const worker = app.worker({ queues: ['default'], concurrency: 8 });
 * await worker.start();
 *
 * const wf = await app.start(chain(fetchOrder.s(42), chord([price.si(1), price.si(2)], total.s()), notify.s()));
 * console.log(await wf.result());        // 'charged 30' — typed as string
 * console.log(await wf.status());        // every node, its state, attempts, result or error
 * await app.close();
 * ```
 */
export { createApp, App, type AppOptions, type StartOptions } from './runtime/app.js';
export { WorkflowHandle } from './runtime/handle.js';
export { Worker, type WorkerOptions } from './runtime/worker.js';
export type { TaskContext, RetryRequest } from './runtime/context.js';
export type { Routes } from './runtime/registry.js';
export type { Limits } from './runtime/limits.js';
export { DEFAULT_LIMITS } from './runtime/limits.js';
export { toMermaid, toDot } from './runtime/render.js';
export { chain, group, chord, sig, type TaskRegistry, type SigOptions } from './canvas/builders.js';
export { compile } from './canvas/compile.js';
export type { WorkflowGraph, GraphNode, Recipe } from './canvas/graph.js';
export type { Task } from './canvas/task.js';
export { Signature, Chain, Group, Chord, type Canvas, type AnyCanvas, type NoParent, type ErrbackInfo, type SignatureOptions } from './canvas/values.js';
export type { ResultOf } from './canvas/typing.js';
export type { TaskOptions, ErrorMatcher } from './core/options.js';
export type { JsonValue } from './core/json.js';
export type { WorkflowSnapshot, NodeSnapshot, NodeSnapshotState, WorkflowSnapshotState } from './core/snapshot.js';
export {
  BraidError, SerializationError, CanvasError, UnknownTaskError, WorkflowFailedError, WorkflowCanceledError,
  WorkflowStateError, SoftTimeLimitExceeded, TimeLimitExceeded, MaxRetriesExceededError, WorkerLostError,
  StoreLostError, CanceledError, ConfigError, ResultTimeoutError, BrokerUnavailableError, BrokerClosedError, type ErrorInfo, type NodeFailure,
} from './core/errors.js';
