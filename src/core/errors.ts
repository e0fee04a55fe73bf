/**
 * Every error braid raises. Each class has a stable `code` that callers match on (never the message),
 * and `instanceof` works across duplicated copies of the package because it checks the code, not the
 * prototype chain alone.
 */

/** A failure as it is stored and shown: plain data, never a revived class (RELIABILITY S1). */
export interface ErrorInfo {
  name: string;
  message: string;
  stack?: string;
}

const brand = Symbol.for('braid.error');

/** Base class of every braid error. `code` is stable across releases; match on it, not on text. */
export class BraidError extends Error {
  /** Stable machine-readable code, e.g. `CANVAS_INVALID`. */
  readonly code: string;
  /** True when retrying the same operation may succeed. */
  readonly retryable: boolean;

  constructor(code: string, message: string, options?: { cause?: unknown; retryable?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options?.retryable ?? false;
    Object.defineProperty(this, brand, { value: code });
  }

  override get name(): string {
    return this.constructor.name;
  }

  /**
   * `instanceof` that survives two copies of the package in one process: an object made by any copy carries
   * the code under a global symbol, and a class with its own static `CODE` matches that code.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== 'object' || value === null) return false;
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    if (!(brand in value)) return false;
    if (this === BraidError) return true;
    const code = Object.prototype.hasOwnProperty.call(this, 'CODE') ? (this as { CODE?: unknown }).CODE : undefined;
    return code !== undefined && (value as { [brand]?: unknown })[brand] === code;
  }
}

/** A value that is not plain JSON was given as an argument or returned as a result. */
export class SerializationError extends BraidError {
  static readonly CODE = 'SERIALIZATION';
  /** Path of the offending value, e.g. `args[1].when`. */
  readonly path: string;
  constructor(path: string, message: string) {
    super(SerializationError.CODE, `${path}: ${message}`);
    this.path = path;
  }
}

/** A canvas, workflow id, option or queue name is invalid. */
export class CanvasError extends BraidError {
  static readonly CODE = 'CANVAS';
  constructor(message: string, options?: { cause?: unknown }) {
    super(CanvasError.CODE, message, options);
  }
}

/** No worker has registered a task of this name. Never retried. */
export class UnknownTaskError extends BraidError {
  static readonly CODE = 'UNKNOWN_TASK';
  /** The task name that was looked up. */
  readonly taskName: string;
  constructor(taskName: string) {
    super(UnknownTaskError.CODE, `no task registered under the name ${JSON.stringify(taskName)}`);
    this.taskName = taskName;
  }
}

/** One node that failed for good, as listed by {@link WorkflowFailedError}. */
export interface NodeFailure {
  nodeId: string;
  task: string;
  error: ErrorInfo;
}

/** `result()` of a workflow that settled `failed`. */
export class WorkflowFailedError extends BraidError {
  static readonly CODE = 'WORKFLOW_FAILED';
  readonly workflowId: string;
  readonly failures: NodeFailure[];
  constructor(workflowId: string, failures: NodeFailure[]) {
    const first = failures[0];
    const what = first ? `: ${first.task} (${first.nodeId}) ${first.error.name}: ${first.error.message}` : '';
    super(WorkflowFailedError.CODE, `workflow ${workflowId} failed${what}${failures.length > 1 ? ` (+${failures.length - 1} more)` : ''}`);
    this.workflowId = workflowId;
    this.failures = failures;
  }
}

/** `result()` of a workflow that was canceled. */
export class WorkflowCanceledError extends BraidError {
  static readonly CODE = 'WORKFLOW_CANCELED';
  readonly workflowId: string;
  constructor(workflowId: string) {
    super(WorkflowCanceledError.CODE, `workflow ${workflowId} was canceled`);
    this.workflowId = workflowId;
  }
}

/** An operation that the workflow's current state does not allow (replay of a running workflow, unknown id). */
export class WorkflowStateError extends BraidError {
  static readonly CODE = 'WORKFLOW_STATE';
  readonly workflowId: string;
  constructor(workflowId: string, message: string) {
    super(WorkflowStateError.CODE, message);
    this.workflowId = workflowId;
  }
}

/** The soft time limit passed: `ctx.signal` is aborted with this reason; the handler may recover. */
export class SoftTimeLimitExceeded extends BraidError {
  static readonly CODE = 'SOFT_TIME_LIMIT';
  constructor(limitMs: number) {
    super(SoftTimeLimitExceeded.CODE, `soft time limit of ${limitMs} ms exceeded`);
  }
}

/** The hard time limit passed: the attempt failed whatever the handler did. */
export class TimeLimitExceeded extends BraidError {
  static readonly CODE = 'TIME_LIMIT';
  constructor(limitMs: number) {
    super(TimeLimitExceeded.CODE, `time limit of ${limitMs} ms exceeded`);
  }
}

/** `ctx.retry()` was called with no retries left. */
export class MaxRetriesExceededError extends BraidError {
  static readonly CODE = 'MAX_RETRIES';
  constructor(maxRetries: number, options?: { cause?: unknown }) {
    super(MaxRetriesExceededError.CODE, `no retries left (maxRetries ${maxRetries})`, options);
  }
}

/** The node's worker died more than `maxRedeliveries` times while running it. */
export class WorkerLostError extends BraidError {
  static readonly CODE = 'WORKER_LOST';
  constructor(redeliveries: number) {
    super(WorkerLostError.CODE, `worker lost while running the node (${redeliveries} redeliveries)`);
  }
}

/** The store no longer has a workflow it had: it was wiped, or restarted without persistence. */
export class StoreLostError extends BraidError {
  static readonly CODE = 'STORE_LOST';
  constructor(message: string) {
    super(StoreLostError.CODE, message);
  }
}

/** The node's workflow was canceled while it ran (reason of `ctx.signal`). */
export class CanceledError extends BraidError {
  static readonly CODE = 'CANCELED';
  constructor(workflowId: string) {
    super(CanceledError.CODE, `workflow ${workflowId} was canceled`);
  }
}

/** A connection URL or app option is invalid, or a server cannot be reached. */
export class ConfigError extends BraidError {
  static readonly CODE = 'CONFIG';
  constructor(message: string, options?: { cause?: unknown }) {
    super(ConfigError.CODE, message, options);
  }
}

/**
 * A publish could not be confirmed by the broker within `publishTimeoutMs` (connection down the whole time,
 * channel closed before the confirm on every attempt, or the broker nacked it each time). The message may or
 * may not be queued: publishes are at least once, and a duplicate is harmless (DESIGN inv 2). Retryable.
 */
export class BrokerUnavailableError extends BraidError {
  static readonly CODE = 'BROKER_UNAVAILABLE';
  /** The queue the message was for. */
  readonly queue: string;
  constructor(queue: string, message: string, options?: { cause?: unknown }) {
    super(BrokerUnavailableError.CODE, message, { ...options, retryable: true });
    this.queue = queue;
  }
}

/** The broker was closed while an operation was pending or after it was closed. Not retryable. */
export class BrokerClosedError extends BraidError {
  static readonly CODE = 'BROKER_CLOSED';
  constructor(message = 'the broker is closed') {
    super(BrokerClosedError.CODE, message);
  }
}

/**
 * Turns anything thrown into `{ name, message, stack }`. Never throws: getters that throw, `throw undefined`,
 * circular causes and revoked proxies all come out as plain strings (RELIABILITY §5 row 11).
 */
export function toErrorInfo(thrown: unknown): ErrorInfo {
  try {
    if (thrown instanceof Error) {
      const info: ErrorInfo = { name: safeString(() => thrown.name, 'Error'), message: safeString(() => thrown.message, '') };
      const stack = safeString(() => thrown.stack ?? '', '');
      if (stack) info.stack = stack.slice(0, 16_384);
      return info;
    }
    if (typeof thrown === 'object' && thrown !== null) {
      const name = safeString(() => (thrown as { name?: unknown }).name as string, '');
      const message = safeString(() => (thrown as { message?: unknown }).message as string, '');
      if (name || message) return { name: name || 'Error', message };
    }
    return { name: 'NonErrorThrown', message: safeString(() => String(thrown), '<unprintable value>') };
  } catch {
    return { name: 'NonErrorThrown', message: '<unprintable value>' };
  }
}

function safeString(read: () => unknown, fallback: string): string {
  try {
    const value = read();
    return typeof value === 'string' ? value.slice(0, 8_192) : fallback;
  } catch {
    return fallback;
  }
}

/** `wf.result({ timeoutMs })` gave up waiting; the workflow goes on. */
export class ResultTimeoutError extends BraidError {
  static readonly CODE = 'RESULT_TIMEOUT';
  readonly workflowId: string;
  constructor(workflowId: string, timeoutMs: number) {
    super(ResultTimeoutError.CODE, `workflow ${workflowId} did not settle within ${timeoutMs} ms`, { retryable: true });
    this.workflowId = workflowId;
  }
}
