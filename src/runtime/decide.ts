/**
 * What an attempt's raw outcome means for the node: complete, retry (with which delay), fail for good, or
 * replace. Pure: options, retries used, limits and the random source come in; nothing is stored here.
 */
import { CanvasError, MaxRetriesExceededError, SerializationError, toErrorInfo, type ErrorInfo } from '../core/errors.js';
import { encodeJson } from '../core/json.js';
import { isAutoretried, MAX_DELAY_MS, retryDelay, type ResolvedOptions } from '../core/options.js';
import type { AnyCanvas } from '../canvas/values.js';
import type { RawOutcome } from './run-handler.js';

/** What to commit for an attempt. */
export type Decision =
  | { kind: 'complete'; result: string }
  | { kind: 'retry'; error: ErrorInfo; delayMs: number }
  | { kind: 'fail'; error: ErrorInfo }
  | { kind: 'replace'; canvas: AnyCanvas }
  | { kind: 'abandon'; reason: unknown };

/** Inputs of a decision besides the outcome. */
export interface DecisionInput {
  options: ResolvedOptions;
  /** Retries already used in this run. */
  retries: number;
  resultBytes: number;
  jsonDepth: number;
  random: () => number;
}

/** Decides what an attempt's outcome means. */
export function decide(raw: RawOutcome, input: DecisionInput): Decision {
  const { options, retries } = input;
  const canRetry = retries < options.maxRetries;
  switch (raw.kind) {
    case 'aborted':
      return { kind: 'abandon', reason: raw.reason };
    case 'replace':
      return { kind: 'replace', canvas: raw.signal.canvas };
    case 'returned': {
      try {
        // API.md: undefined is no JSON value, so a handler that returns nothing fails for good like any other
        // non-JSON result (a task with no result returns null).
        if (raw.value === undefined) throw new SerializationError('result', 'the handler returned undefined; return null for a task without a result');
        return { kind: 'complete', result: encodeJson(raw.value, 'result', { maxBytes: input.resultBytes, maxDepth: input.jsonDepth }) };
      } catch (error) {
        return { kind: 'fail', error: toErrorInfo(error) };
      }
    }
    case 'retry': {
      const { countdownMs, error } = raw.signal.request;
      if (!canRetry) {
        return { kind: 'fail', error: toErrorInfo(error ?? new MaxRetriesExceededError(options.maxRetries)) };
      }
      if (countdownMs !== undefined && (!Number.isInteger(countdownMs) || countdownMs < 0 || countdownMs > MAX_DELAY_MS)) {
        return { kind: 'fail', error: toErrorInfo(new CanvasError(`ctx.retry(): countdownMs must be a whole number from 0 to ${MAX_DELAY_MS}`)) };
      }
      const info = toErrorInfo(error ?? new Error('retry requested'));
      return { kind: 'retry', error: info, delayMs: countdownMs ?? retryDelay(options, retries, input.random) };
    }
    case 'threw': {
      const info = toErrorInfo(raw.error);
      if (canRetry && isAutoretried(options, raw.error)) {
        return { kind: 'retry', error: info, delayMs: retryDelay(options, retries, input.random) };
      }
      return { kind: 'fail', error: info };
    }
  }
}
