/**
 * The app a command works with, and its connection. URLs come from `--broker` / `--store` / `--prefix`, else
 * `BRAID_BROKER_URL` / `BRAID_STORE_URL` / `BRAID_PREFIX`, else the `--app` module's own options. With `--app`
 * the command uses that app's tasks, defaults and routes, pointed at the command line's URLs when given;
 * without it, a bare app made from the URLs (enough to inspect, replay and cancel: those need no task code).
 * Connecting is bounded: a server that does not answer in time is reported, never waited on.
 */
import { Command, InvalidArgumentError } from 'commander';
import { pino, type Logger } from 'pino';
import { ConfigError } from '../core/errors.js';
import { createApp, type App, type AppOptions } from '../runtime/app.js';
import { redactUrl, schemeOf } from '../runtime/connect.js';
import { REDACT_PATHS } from '../runtime/logger.js';
import { CliError, EXIT, firstLine } from './errors.js';
import { loadApp } from './load-app.js';

/** The connection flags every command but `demo` takes. */
export interface ConnectionFlags {
  broker?: string;
  store?: string;
  prefix?: string;
  connectTimeoutMs: number;
  app?: string;
}

/** An app and the URLs it is connected to. */
export interface Session {
  app: App;
  broker: string;
  store: string;
}

/** Parses a whole, positive number option. */
export function positiveInteger(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of at least 1');
  return n;
}

/** Adds `--app`, `--broker`, `--store`, `--prefix` and `--connect-timeout-ms` to a command. */
export function withConnection(command: Command, app: 'required' | 'optional'): Command {
  const appHelp = 'module whose default export (or export `app`) is a braid App; path relative to the working directory';
  if (app === 'required') command.requiredOption('--app <module>', appHelp);
  else command.option('--app <module>', `${appHelp} (optional: ids are enough to inspect, replay and cancel)`);
  return command
    .option('--broker <url>', 'broker URL, redis://host:port/db or amqp://user:pass@host:port/vhost (env BRAID_BROKER_URL)')
    .option('--store <url>', 'store URL, redis://host:port/db (env BRAID_STORE_URL; default: the broker URL when it is redis://)')
    .option('--prefix <name>', 'namespace of every key and queue (env BRAID_PREFIX; default braid)')
    .option('--connect-timeout-ms <ms>', 'how long to wait for the broker and store', positiveInteger, 5_000);
}

/** The default logger of a bare app: pino on stderr at BRAID_LOG_LEVEL (default warn), credentials redacted. */
export function cliLogger(env: NodeJS.ProcessEnv = process.env): Logger {
  return pino({ name: 'braid', level: env.BRAID_LOG_LEVEL ?? 'warn', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, pino.destination(2));
}

/**
 * Makes the command's app and connects it within the timeout. `broker: true` when the command sends messages
 * (worker, replay): then the broker must be one other processes share, like the store always must.
 */
export async function openSession(flags: ConnectionFlags, needs: { broker: boolean }, env: NodeJS.ProcessEnv = process.env): Promise<Session> {
  const overrides: AppOptions = {};
  const broker = flags.broker ?? env.BRAID_BROKER_URL;
  const store = flags.store ?? env.BRAID_STORE_URL;
  const prefix = flags.prefix ?? env.BRAID_PREFIX;
  if (broker) overrides.broker = broker;
  if (store) overrides.store = store;
  if (prefix) overrides.prefix = prefix;
  for (const url of [broker, store]) if (url) usage(() => schemeOf(url));
  const loaded = flags.app ? await loadApp(flags.app) : undefined;
  const base = loaded ? loaded.settings : {};
  const app = usage(() => (loaded ? loaded.withConnections(overrides) : createApp({ ...overrides, logger: cliLogger(env) })));
  const urls = effectiveUrls({ ...base, ...overrides });
  if (needs.broker && schemeOf(urls.broker) === 'memory') {
    throw new CliError(EXIT.usage, 'no broker to connect to: pass --broker redis://… or amqp://… or set BRAID_BROKER_URL (a memory:// broker lives inside one process)');
  }
  if (schemeOf(urls.store) === 'memory') {
    throw new CliError(EXIT.usage, 'no store to connect to: pass --store redis://host:port/db or set BRAID_STORE_URL (a memory:// store lives inside one process)');
  }
  await connectWithin(app, urls, flags.connectTimeoutMs);
  return { app, ...urls };
}

/** Closes the session's app, waiting at most `ms` (a server gone mid-command must not hold the exit). */
export async function closeSession(session: Session | undefined, ms = 2_000): Promise<void> {
  if (!session) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([session.app.close().catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/** Runs `work` on a fresh session and closes it afterwards, whatever happens. */
export async function withSession<T>(flags: ConnectionFlags, needs: { broker: boolean }, work: (session: Session) => Promise<T>): Promise<T> {
  let session: Session | undefined;
  try {
    session = await openSession(flags, needs);
    return await work(session);
  } finally {
    await closeSession(session);
  }
}

function effectiveUrls(options: AppOptions): { broker: string; store: string } {
  const broker = options.broker ?? 'memory://';
  return { broker, store: options.store ?? (schemeOf(broker) === 'redis' ? broker : 'memory://') };
}

async function connectWithin(app: App, urls: { broker: string; store: string }, timeoutMs: number): Promise<void> {
  const remote = [...new Set([urls.broker, urls.store])].filter((url) => schemeOf(url) !== 'memory');
  const where = remote.map(redactUrl).join(' and ');
  const connecting = app.kernel();
  connecting.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CliError(EXIT.unreachable, `no answer from ${where} within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([connecting, deadline]);
  } catch (error) {
    if (error instanceof CliError) throw error;
    const text = error instanceof Error ? error.message : String(error);
    throw new CliError(EXIT.unreachable, `cannot connect to ${where}: ${firstLine(text)}`, { cause: error });
  } finally {
    clearTimeout(timer);
  }
}

function usage<T>(make: () => T): T {
  try {
    return make();
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(EXIT.usage, error.message, { cause: error });
    throw error;
  }
}
