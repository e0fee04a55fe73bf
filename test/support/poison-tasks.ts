/**
 * The tasks of F5 (RELIABILITY §3, poison nodes), shared by the test's producer app and every forked worker
 * (test/support/poison-worker.ts), so both resolve the same options (the producer resolves dispatch, and with
 * it `maxRedeliveries`). Each poison does the same thing on every attempt:
 *
 * | task | what it does | expected end |
 * |---|---|---|
 * | `p.kill` | SIGKILLs its own process | `WorkerLostError` after `maxRedeliveries` |
 * | `p.busy` | loops forever: the event loop is blocked, `ctx.signal` unheard | the same (the supervisor kills the worker) |
 * | `p.oom` | allocates until V8 runs out of heap (`--max-old-space-size`) | the same |
 * | `p.hang` | ignores its signal and returns after {@link HANG_MS}, past its `timeLimitMs` | `TimeLimitExceeded`, once |
 *
 * `p.inc` is a healthy task; `p.report` is the errback every workflow of the test carries: it appends
 * `<workflowId> <nodeId> <error name>` to the list {@link REPORTS_KEY} of the ledger, so the test counts how
 * often each errback ran.
 */
import { Redis } from 'ioredis';
import type { App, ErrbackInfo } from '../../src/index.js';

/** Redeliveries each poison gets before it fails for good (small: every one costs a worker). */
export const POISON_REDELIVERIES = 2;

/** The hard time limit of `p.hang`, and how long it really takes. */
export const HANG_LIMIT_MS = 2_000;
export const HANG_MS = 4_000;

/** The ledger list the errback appends to. */
export const REPORTS_KEY = 'f5:reports';

/** The ledger key `p.hang` sets when its late return comes (after its attempt has failed). */
export const LATE_KEY = 'f5:late';

/** Registers the F5 tasks on `app`; `ledger` is where `p.report` and `p.hang` write (the producer passes none). */
export function registerPoisonTasks(app: App, ledger?: Redis): void {
  const poison = { maxRedeliveries: POISON_REDELIVERIES };
  app.task('p.kill', () => {
    process.kill(process.pid, 'SIGKILL');
    return null;
  }, poison);
  app.task('p.busy', () => {
    // Blocks the event loop for good: no renewal, no signal, no timer runs again in this process.
    for (;;) {
      // spin
    }
  }, poison);
  app.task('p.oom', () => {
    const hoard: number[][] = [];
    for (;;) hoard.push(Array.from({ length: 250_000 }, (_, i) => i));
  }, poison);
  app.task('p.hang', async () => {
    await new Promise((resolve) => setTimeout(resolve, HANG_MS));
    await ledger?.incr(LATE_KEY);
    return 'late';
  }, { timeLimitMs: HANG_LIMIT_MS });
  app.task('p.inc', (_ctx, x: number) => x + 1);
  app.task('p.report', async (_ctx, info: ErrbackInfo) => {
    await ledger?.rpush(REPORTS_KEY, `${info.workflowId} ${info.nodeId} ${info.error.name}`);
    return null;
  });
}
