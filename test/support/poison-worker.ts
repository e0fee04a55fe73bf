/**
 * One F5 worker process (forked by test/faults/f5-poison-nodes.test.ts with `--import tsx` and a small
 * `--max-old-space-size`): the poison tasks of test/support/poison-tasks.ts on the Redis broker and store,
 * concurrency 1 (so a poison that takes its process down takes no healthy node with it). It sends a heartbeat
 * over IPC every {@link BEAT_MS} ms: a worker whose event loop a poison blocked goes silent, and the test's
 * supervisor replaces it, as a process supervisor would with a liveness probe.
 *
 * Environment: BRAID_F5_URL (Redis), BRAID_F5_PREFIX, BRAID_F5_LEASE_MS, BRAID_F5_SWEEP_MS.
 */
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { createApp } from '../../src/index.js';
import { registerPoisonTasks } from './poison-tasks.js';

/** How often a worker says it is alive. */
export const BEAT_MS = 100;

function env(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`poison worker: ${name} is not set`);
  return value;
}

const url = env('BRAID_F5_URL');
const logger = pino({ level: 'warn', base: { pid: process.pid } }, pino.destination(2));
const ledger = new Redis(url);
const app = createApp({ broker: url, prefix: env('BRAID_F5_PREFIX'), logger });
registerPoisonTasks(app, ledger);
const worker = app.worker({
  concurrency: 1,
  leaseMs: Number(env('BRAID_F5_LEASE_MS')),
  sweepIntervalMs: Number(env('BRAID_F5_SWEEP_MS')),
  shutdownGraceMs: 2_000,
});

const send = (message: unknown): void => {
  if (process.connected) process.send?.(message);
};

// The parent is gone (the test process died): never outlive it.
process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
process.on('SIGTERM', () => {
  void app.close().finally(() => {
    ledger.disconnect();
    process.exit(0);
  });
});

await worker.start();
setInterval(() => send({ type: 'beat' }), BEAT_MS);
send({ type: 'ready', pid: process.pid });
