/**
 * Runs one handler invocation under its time limits and turns whatever happens into a {@link RawOutcome}.
 * The soft limit aborts `ctx.signal` (the handler may recover); the hard limit ends the attempt with
 * TimeLimitExceeded whatever the handler does; an outside abort (cancel, lost lease, shutdown) ends the wait
 * at once. A handler that keeps running after that is fenced off by the store: its commit would be stale.
 */
import { SoftTimeLimitExceeded, TimeLimitExceeded } from '../core/errors.js';
import { AttemptContext, ReplaceSignal, RetrySignal } from './context.js';
import type { AnyHandler } from './registry.js';

/** What one invocation did. */
export type RawOutcome =
  | { kind: 'returned'; value: unknown }
  | { kind: 'threw'; error: unknown }
  | { kind: 'retry'; signal: RetrySignal }
  | { kind: 'replace'; signal: ReplaceSignal }
  | { kind: 'aborted'; reason: unknown };

/** Limits of one invocation. */
export interface InvocationLimits {
  softTimeLimitMs?: number;
  timeLimitMs?: number;
}

/**
 * Ends an attempt from outside (cancel, lost lease, shutdown). Lighter than an AbortController, which
 * costs more to make than a whole trivial task; the handler's own `ctx.signal` is aborted with the reason.
 */
export class Stopper {
  private listener: ((reason: unknown) => void) | undefined;
  /** The reason it was stopped with, once stopped. */
  reason: unknown;
  stopped = false;
  /** Links of its workflow's list of running attempts (RunningAttempts, ./running.ts). */
  previousRunning: Stopper | undefined;
  nextRunning: Stopper | undefined;

  /** Stops the attempt (first call wins). */
  stop(reason: unknown): void {
    if (this.stopped) return;
    this.stopped = true;
    this.reason = reason;
    this.listener?.(reason);
  }

  /** Sets the one listener (called at once when already stopped). */
  onStop(listener: ((reason: unknown) => void) | undefined): void {
    this.listener = listener;
    if (listener && this.stopped) listener(this.reason);
  }
}

/**
 * Invokes `handler(ctx, ...args)`. `ctx.abort()` aborts the handler's `ctx.signal`; `outside` ends the wait
 * (cancel, lease lost, shutdown). Timers are cleared whatever happens. Without time limits nothing is armed:
 * a handler that returns a plain value is done at once, one that returns a promise is raced against `outside`.
 */
export function runHandler(
  handler: AnyHandler,
  ctx: AttemptContext,
  args: readonly unknown[],
  limits: InvocationLimits,
  outside: Stopper,
): RawOutcome | Promise<RawOutcome> {
  if (limits.softTimeLimitMs !== undefined || limits.timeLimitMs !== undefined || outside.stopped) return runLimited(handler, ctx, args, limits, outside);
  let value: unknown;
  let then: unknown;
  try {
    value = call(handler, ctx, args);
    then = thenOf(value);
  } catch (error) {
    return requestedOr(ctx, { kind: 'threw', error });
  }
  if (typeof then !== 'function') return requestedOr(ctx, { kind: 'returned', value });
  return new Promise<RawOutcome>((resolve) => {
    let done = false;
    const finish = (outcome: RawOutcome): void => {
      if (done) return;
      done = true;
      outside.onStop(undefined);
      resolve(outcome);
    };
    outside.onStop((reason) => {
      ctx.abort(reason);
      finish({ kind: 'aborted', reason });
    });
    // Promise.resolve adopts any thenable as `await` does (the same promise when it is a native one).
    Promise.resolve(value).then(
      (result) => finish(requestedOr(ctx, { kind: 'returned', value: result })),
      (error: unknown) => finish(requestedOr(ctx, { kind: 'threw', error })),
    );
  });
}

/** The general path: soft and hard time limits armed before the handler is called. */
async function runLimited(
  handler: AnyHandler,
  ctx: AttemptContext,
  args: readonly unknown[],
  limits: InvocationLimits,
  outside: Stopper,
): Promise<RawOutcome> {
  const timers: NodeJS.Timeout[] = [];
  let stop!: (outcome: RawOutcome) => void;
  const stopped = new Promise<RawOutcome>((resolve) => (stop = resolve));
  if (limits.softTimeLimitMs !== undefined) {
    const ms = limits.softTimeLimitMs;
    timers.push(setTimeout(() => ctx.abort(new SoftTimeLimitExceeded(ms)), ms));
  }
  if (limits.timeLimitMs !== undefined) {
    const ms = limits.timeLimitMs;
    timers.push(setTimeout(() => {
      const error = new TimeLimitExceeded(ms);
      ctx.abort(error);
      stop({ kind: 'threw', error });
    }, ms));
  }
  outside.onStop((reason) => {
    ctx.abort(reason);
    stop({ kind: 'aborted', reason });
  });
  const invoked = invoke(handler, ctx, args);
  try {
    return await Promise.race([invoked, stopped]);
  } finally {
    for (const t of timers) clearTimeout(t);
    outside.onStop(undefined);
  }
}

async function invoke(handler: AnyHandler, ctx: AttemptContext, args: readonly unknown[]): Promise<RawOutcome> {
  let outcome: RawOutcome;
  try {
    const value = await call(handler, ctx, args);
    outcome = { kind: 'returned', value };
  } catch (error) {
    outcome = { kind: 'threw', error };
  }
  return requestedOr(ctx, outcome);
}

function call(handler: AnyHandler, ctx: AttemptContext, args: readonly unknown[]): unknown {
  return (handler as unknown as (ctx: AttemptContext, ...a: unknown[]) => unknown)(ctx, ...args);
}

/** The `then` of a thenable (read once, as `await` does), else undefined. */
function thenOf(value: unknown): unknown {
  return value !== null && (typeof value === 'object' || typeof value === 'function') ? (value as { then?: unknown }).then : undefined;
}

/** A retry or replace asked for wins even when the handler caught the throw. */
function requestedOr(ctx: AttemptContext, outcome: RawOutcome): RawOutcome {
  if (ctx.requested instanceof RetrySignal) return { kind: 'retry', signal: ctx.requested };
  if (ctx.requested instanceof ReplaceSignal) return { kind: 'replace', signal: ctx.requested };
  return outcome;
}
