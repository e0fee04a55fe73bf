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
 * Invokes `handler(ctx, ...args)`. `controller` is the one behind `ctx.signal`; `outside` ends the wait
 * (cancel, lease lost, shutdown). Timers are cleared whatever happens.
 */
export async function runHandler(
  handler: AnyHandler,
  ctx: AttemptContext,
  args: readonly unknown[],
  limits: InvocationLimits,
  controller: AbortController,
  outside: Stopper,
): Promise<RawOutcome> {
  const timers: NodeJS.Timeout[] = [];
  let stop!: (outcome: RawOutcome) => void;
  const stopped = new Promise<RawOutcome>((resolve) => (stop = resolve));
  if (limits.softTimeLimitMs !== undefined) {
    const ms = limits.softTimeLimitMs;
    timers.push(setTimeout(() => controller.abort(new SoftTimeLimitExceeded(ms)), ms));
  }
  if (limits.timeLimitMs !== undefined) {
    const ms = limits.timeLimitMs;
    timers.push(setTimeout(() => {
      const error = new TimeLimitExceeded(ms);
      if (!controller.signal.aborted) controller.abort(error);
      stop({ kind: 'threw', error });
    }, ms));
  }
  outside.onStop((reason) => {
    if (!controller.signal.aborted) controller.abort(reason);
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
    const value = await (handler as unknown as (ctx: AttemptContext, ...a: unknown[]) => unknown)(ctx, ...args);
    outcome = { kind: 'returned', value };
  } catch (error) {
    outcome = { kind: 'threw', error };
  }
  // A retry or replace asked for wins even when the handler caught the throw.
  if (ctx.requested instanceof RetrySignal) return { kind: 'retry', signal: ctx.requested };
  if (ctx.requested instanceof ReplaceSignal) return { kind: 'replace', signal: ctx.requested };
  return outcome;
}
