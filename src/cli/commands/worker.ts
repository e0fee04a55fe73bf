/**
 * `braid worker --app <module>`: runs a worker for the app's tasks until SIGTERM or SIGINT, then closes
 * gracefully: it stops taking work, lets in-flight nodes finish (up to `--shutdown-grace-ms`), lets go of the
 * rest (they run again elsewhere once their leases lapse), closes the app and exits 0. A second signal exits at once; nodes still running
 * then go back to their queues when their leases lapse.
 */
import { Command } from 'commander';
import { CliError, EXIT } from '../errors.js';
import { closeSession, openSession, positiveInteger, withConnection, type ConnectionFlags, type Session } from '../session.js';

interface WorkerFlags extends ConnectionFlags {
  queues?: string;
  concurrency: number;
  leaseMs: number;
  shutdownGraceMs: number;
}

/** The `worker` command. */
export function workerCommand(): Command {
  return withConnection(new Command('worker'), 'required')
    .description('run a worker for an app\'s tasks until SIGTERM or SIGINT')
    .option('-Q, --queues <list>', 'comma-separated queues to consume (default: every queue the app\'s defaults, routes and tasks name)')
    .option('-c, --concurrency <n>', 'most nodes run at once', positiveInteger, 8)
    .option('--lease-ms <ms>', 'lease of a running node, renewed every leaseMs / 3; a dead worker\'s nodes run again after it lapses', positiveInteger, 30_000)
    .option('--shutdown-grace-ms <ms>', 'on SIGTERM, how long in-flight nodes may finish before the worker lets go of them', positiveInteger, 30_000)
    .action(async (flags: WorkerFlags) => {
      const stopping = waitForSignal();
      let session: Session | undefined;
      try {
        session = await openSession(flags, { broker: true });
        const queues = flags.queues === undefined ? session.app.registry.knownQueues() : flags.queues.split(',').map((q) => q.trim()).filter((q) => q !== '');
        if (queues.length === 0) throw new CliError(EXIT.usage, '-Q needs at least one queue name');
        const worker = session.app.worker({ queues, concurrency: flags.concurrency, leaseMs: flags.leaseMs, shutdownGraceMs: flags.shutdownGraceMs });
        await worker.start();
        process.stderr.write(`braid worker: consuming ${queues.join(', ')} (concurrency ${flags.concurrency}); SIGTERM or Ctrl-C to stop\n`);
        const signal = await stopping;
        process.stderr.write(`braid worker: ${signal}: finishing in-flight nodes, then exiting (send it again to exit now)\n`);
        process.once('SIGINT', exitNow).once('SIGTERM', exitNow);
        await worker.close();
      } finally {
        await closeSession(session);
      }
    });
}

function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', on).off('SIGTERM', on);
      resolve(signal);
    };
    process.on('SIGINT', on).on('SIGTERM', on);
  });
}

function exitNow(signal: NodeJS.Signals): void {
  process.stderr.write(`braid worker: ${signal} again: exiting now; nodes still running go back to their queues when their leases lapse\n`);
  process.exit(EXIT.failed);
}
