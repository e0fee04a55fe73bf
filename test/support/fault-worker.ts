/**
 * One fault-suite worker process (forked by test/support/fault-harness.ts with `--import tsx`). It builds the
 * same app as the producer (tasks that write the ledger, then return a deterministic value of their
 * arguments), starts `app.worker({ queues, concurrency, leaseMs })`, reports its counters to the parent over
 * IPC every 200 ms, and on SIGTERM closes gracefully. A named crash point may SIGKILL it
 * (`BRAID_TEST_CRASH_AT`, read by src/runtime/crash-points.ts).
 *
 * Environment: BRAID_FAULT_STORE, BRAID_FAULT_BROKER, BRAID_FAULT_LEDGER (URLs), BRAID_FAULT_PREFIX,
 * BRAID_FAULT_CONCURRENCY, BRAID_FAULT_LEASE_MS, BRAID_FAULT_SWEEP_MS, BRAID_FAULT_REPUBLISH_MS,
 * BRAID_FAULT_RETENTION_MS, BRAID_FAULT_LOG_LEVEL (default warn; logs go to stderr, which the harness sends
 * to a file).
 */
import { pino } from 'pino';
import { createApp } from '../../src/index.js';
import { FAULT_DEFAULTS, FAULT_QUEUES, Ledger, registerFaultTasks } from './fault-tasks.js';

function env(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`fault worker: ${name} is not set`);
  return value;
}

const num = (name: string): number => Number(env(name));
const prefix = env('BRAID_FAULT_PREFIX');
const logger = pino({ level: process.env.BRAID_FAULT_LOG_LEVEL ?? 'warn', base: { pid: process.pid } }, pino.destination(2));
const ledger = new Ledger(env('BRAID_FAULT_LEDGER'), prefix);
const app = createApp({
  broker: env('BRAID_FAULT_BROKER'),
  store: env('BRAID_FAULT_STORE'),
  prefix,
  logger,
  storeHistory: true,
  retentionMs: num('BRAID_FAULT_RETENTION_MS'),
  defaults: FAULT_DEFAULTS,
});
registerFaultTasks(app, ledger);
const worker = app.worker({
  queues: FAULT_QUEUES,
  concurrency: num('BRAID_FAULT_CONCURRENCY'),
  leaseMs: num('BRAID_FAULT_LEASE_MS'),
  sweepIntervalMs: num('BRAID_FAULT_SWEEP_MS'),
  republishAfterMs: num('BRAID_FAULT_REPUBLISH_MS'),
  shutdownGraceMs: 5_000,
});

const send = (message: unknown): void => {
  if (process.connected) process.send?.(message);
};
const report = (): void => send({ type: 'counters', counters: app.counters.all() });

// The parent is gone (the test process died): never outlive it.
process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));

let closing = false;
process.on('SIGTERM', () => {
  if (closing) return;
  closing = true;
  void (async () => {
    try {
      await app.close();
      await ledger.close();
    } finally {
      report();
      send({ type: 'closed' });
      // Give the IPC message a moment to leave before exiting.
      setTimeout(() => process.exit(0), 50);
    }
  })();
});

process.on('uncaughtException', (error) => {
  logger.fatal({ err: error }, 'fault worker: uncaught exception');
  report();
  process.exit(70);
});
process.on('unhandledRejection', (error) => {
  logger.fatal({ err: error }, 'fault worker: unhandled rejection');
  report();
  process.exit(71);
});

// Every delivery, and those the broker marks redelivered (RELIABILITY D5: bounded by prefetch x cuts, F4).
const kernel = await app.kernel();
const consume = kernel.broker.consume.bind(kernel.broker);
kernel.broker.consume = (queues, options, onDelivery) => consume(queues, options, (delivery) => {
  app.counters.add('broker.deliveries');
  if (delivery.redelivered) app.counters.add('broker.redelivered');
  onDelivery(delivery);
});

await worker.start();
setInterval(report, 200).unref();
send({ type: 'ready', pid: process.pid });
// Keep the process alive while the worker runs (its timers are unref'd).
setInterval(() => undefined, 1 << 30);
