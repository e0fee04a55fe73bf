/**
 * Retries a store call that failed for want of a connection. Safe because every store transition is
 * idempotent for the same token and attempt (RELIABILITY §1 rules: a rejected or timed-out command may have
 * run; the caller runs the same script again, never "undoes"). Typed braid errors are not retried.
 */
import { BraidError } from '../core/errors.js';
import type { Kernel } from './kernel.js';

const DELAYS_MS = [50, 100, 250, 500, 1000, 2000, 4000, 8000];

/** Runs `call`, retrying transient failures with backoff (about 16 s in all); rethrows the last error. */
export function withStoreRetries<T>(kernel: Kernel, operation: string, call: () => Promise<T>): Promise<T> {
  // The first try is a plain call: an async wrapper around every store call would cost a frame each time.
  let first: Promise<T>;
  try {
    first = call();
  } catch (error) {
    first = Promise.reject(error);
  }
  return first.catch((error: unknown) => retrying(kernel, operation, call, error));
}

async function retrying<T>(kernel: Kernel, operation: string, call: () => Promise<T>, failure: unknown): Promise<T> {
  let error = failure;
  for (let attempt = 0; ; attempt++) {
    const delay = DELAYS_MS[attempt];
    if (error instanceof BraidError || delay === undefined) throw error;
    kernel.counters.add('store_retry');
    kernel.logger.warn({ err: error, operation, attempt: attempt + 1 }, 'store call failed; retrying');
    await new Promise((resolve) => setTimeout(resolve, delay));
    try {
      return await call();
    } catch (next) {
      error = next;
    }
  }
}
