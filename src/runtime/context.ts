/**
 * The TaskContext a handler receives first, and the control signals behind `ctx.retry()` and
 * `ctx.replace()` (they end the attempt by throwing; the context also remembers them, so a handler that
 * swallows the throw still gets its retry or replacement).
 */
import type { Logger } from 'pino';
import type { AnyCanvas } from '../canvas/values.js';

/** What `ctx.retry()` takes. */
export interface RetryRequest {
  /** Delay before the retry (default: the task's retry delay schedule). */
  countdownMs?: number;
  /** The error this attempt failed with (kept on the node; raised if no retries are left). */
  error?: unknown;
}

/** The context every handler receives as its first argument. */
export interface TaskContext {
  readonly workflowId: string;
  readonly nodeId: string;
  readonly taskName: string;
  /** 1 for the first run; retries count up; a replay starts again at 1. */
  readonly attempt: number;
  /** `${workflowId}/${nodeId}`: the same across retries, redeliveries and replays. Pass it to services whose effect must happen once. */
  readonly idempotencyKey: string;
  /** A pino child logger bound to task name, node id and workflow id. */
  readonly log: Logger;
  /** Aborted on the soft time limit (reason SoftTimeLimitExceeded), the hard limit, cancel, or a lost lease. */
  readonly signal: AbortSignal;
  /** Ends this attempt and schedules a retry. Never returns. */
  retry(request?: RetryRequest): never;
  /** This node's result becomes the result of `canvas`, started in its place. Never returns. */
  replace(canvas: AnyCanvas): never;
}

/** Thrown by `ctx.retry()`. */
export class RetrySignal {
  constructor(readonly request: RetryRequest) {}
}

/** Thrown by `ctx.replace()`. */
export class ReplaceSignal {
  constructor(readonly canvas: AnyCanvas) {}
}

/**
 * The context of one attempt; `requested` holds a retry or replace asked for, even if the handler swallowed the
 * throw. The child logger and the AbortController behind `signal` are made on first use: each costs more than
 * a whole trivial task, and most handlers touch neither. An abort that comes before `signal` is first read is
 * remembered, so the signal is then already aborted with that reason.
 */
export class AttemptContext implements TaskContext {
  requested: RetrySignal | ReplaceSignal | undefined;
  private child: Logger | undefined;
  private controller: AbortController | undefined;
  private abortedWith: { reason: unknown } | undefined;

  constructor(
    readonly workflowId: string,
    readonly nodeId: string,
    readonly taskName: string,
    readonly attempt: number,
    private readonly logger: Logger,
  ) {}

  /** A child of the app's logger bound to task name, node id and workflow id (made on first use). */
  get log(): Logger {
    return (this.child ??= this.logger.child({ task: this.taskName, nodeId: this.nodeId, workflowId: this.workflowId }));
  }

  /** Aborted on the soft time limit, the hard limit, cancel, a lost lease or shutdown (made on first use). */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.abortedWith) this.controller.abort(this.abortedWith.reason);
    }
    return this.controller.signal;
  }

  /** Whether `signal` is aborted (read without making it). */
  get aborted(): boolean {
    return this.abortedWith !== undefined;
  }

  /** Aborts `signal` with `reason`; the first abort wins, as with an AbortController. */
  abort(reason: unknown): void {
    if (this.abortedWith) return;
    this.abortedWith = { reason };
    this.controller?.abort(reason);
  }

  get idempotencyKey(): string {
    return `${this.workflowId}/${this.nodeId}`;
  }

  retry(request: RetryRequest = {}): never {
    this.requested ??= new RetrySignal(request);
    throw this.requested;
  }

  replace(canvas: AnyCanvas): never {
    this.requested ??= new ReplaceSignal(canvas);
    throw this.requested;
  }
}
