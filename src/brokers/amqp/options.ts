/**
 * Options of the AMQP broker and the parsing of its URL into amqplib connect options. The URL is parsed here,
 * not by amqplib, so that a bad URL is a `ConfigError` before any socket opens, the heartbeat is capped at 60 s
 * (RELIABILITY S9), and logs can show host and vhost without the password (S7).
 */
import type { ConnectionOptions } from 'node:tls';
import type { Logger } from 'pino';
import type { Options, SocketOptions } from 'amqplib';
import { ConfigError } from '../../core/errors.js';

/** TLS settings for `amqps://` URLs. Certificates are verified unless `rejectUnauthorized: false` is explicit. */
export type AmqpTlsOptions = Pick<ConnectionOptions, 'ca' | 'cert' | 'key' | 'passphrase' | 'servername' | 'rejectUnauthorized'>;

/** Queue type of every queue the broker declares. */
export type AmqpQueueType = 'quorum' | 'classic';

/** How to build an {@link AmqpBroker}. */
export interface AmqpBrokerOptions {
  /**
   * `amqp://user:pass@host:5672/vhost` or `amqps://…` (certificates verified). Query parameters: `heartbeat`
   * (seconds, capped at 60), and `queueType`, `deliveryLimit`, `publishTimeoutMs` (see {@link UrlSettings}).
   */
  url: string;
  /** Every queue and exchange is named `${prefix}.…`; one prefix per app (permission regexes match it). */
  prefix: string;
  /** `quorum` (default: replicated, delivery limit) or `classic` (priorities 0-9). Also `?queueType=` in the URL. */
  queueType?: AmqpQueueType;
  /** pino logger; silent when absent. */
  logger?: Logger;
  /** `x-delivery-limit` of quorum work queues (default 20, as RabbitMQ 4.x; also `?deliveryLimit=`). braid still counts in the store. */
  deliveryLimit?: number;
  /** How long `publish` keeps retrying through outages before it rejects with `BrokerUnavailableError` (30 s; also `?publishTimeoutMs=`). */
  publishTimeoutMs?: number;
  /** TLS options for `amqps://` (e.g. a private CA). */
  tls?: AmqpTlsOptions;
}

/**
 * Broker settings a URL may carry as query parameters, so an app configured by URL alone (`createApp({ broker })`,
 * `BRAID_BROKER_URL`) can choose them: `?queueType=classic`, `?deliveryLimit=10`, `?publishTimeoutMs=60000`,
 * besides `?heartbeat=` (seconds). An option given to the constructor wins over the URL. Any other parameter
 * is a `ConfigError` (a misspelt setting must not be ignored).
 */
export interface UrlSettings {
  queueType?: AmqpQueueType;
  deliveryLimit?: number;
  publishTimeoutMs?: number;
}

const urlParameters = new Set(['heartbeat', 'queueType', 'deliveryLimit', 'publishTimeoutMs']);

/** Reads {@link UrlSettings} from the URL's query (the URL itself is checked by {@link resolveConnection}). */
export function readUrlSettings(url: string): UrlSettings {
  let params: URLSearchParams;
  try {
    params = new URL(url).searchParams;
  } catch (cause) {
    throw new ConfigError('amqp url is not a valid URL', { cause });
  }
  for (const name of params.keys()) {
    if (!urlParameters.has(name)) throw new ConfigError(`amqp url parameter ${JSON.stringify(name)} is unknown (known: ${[...urlParameters].join(', ')})`);
  }
  const settings: UrlSettings = {};
  const queueType = params.get('queueType');
  if (queueType !== null) {
    if (queueType !== 'quorum' && queueType !== 'classic') throw new ConfigError(`amqp url queueType must be quorum or classic, got ${queueType}`);
    settings.queueType = queueType;
  }
  for (const name of ['deliveryLimit', 'publishTimeoutMs'] as const) {
    const raw = params.get(name);
    if (raw === null) continue;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 1) throw new ConfigError(`amqp url ${name} must be a positive integer, got ${raw}`);
    settings[name] = value;
  }
  return settings;
}

/** Connection settings derived from {@link AmqpBrokerOptions.url}. */
export interface ResolvedConnection {
  connect: Options.Connect;
  socket: SocketOptions;
  /** Safe to log: no credentials. */
  where: { host: string; port: number; vhost: string; tls: boolean };
  /** True when certificate verification was switched off explicitly (warned at every start, S6). */
  insecureTls: boolean;
}

const defaultHeartbeatSeconds = 30;
const maxHeartbeatSeconds = 60;
const prefixPattern = /^[A-Za-z0-9_:-][A-Za-z0-9_.:-]{0,99}$/;

/** Checks a prefix: 1-100 of `A-Z a-z 0-9 _ . : -`, not starting with `.` or `amq.` (reserved by AMQP). */
export function checkPrefix(prefix: string): void {
  if (!prefixPattern.test(prefix) || prefix.startsWith('amq.')) {
    throw new ConfigError(`amqp prefix ${JSON.stringify(prefix)} must be 1-100 of A-Z a-z 0-9 _ . : - and not start with "amq." or "."`);
  }
}

/**
 * Parses the URL into amqplib options. Throws `ConfigError` on a scheme other than amqp/amqps, a missing host,
 * a bad port or heartbeat, or TLS options given with a plain `amqp://` URL.
 */
export function resolveConnection(url: string, tls: AmqpTlsOptions | undefined, connectionName: string): ResolvedConnection {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new ConfigError('amqp url is not a valid URL', { cause });
  }
  const secure = parsed.protocol === 'amqps:';
  if (!secure && parsed.protocol !== 'amqp:') throw new ConfigError(`amqp url must start with amqp:// or amqps://, got ${parsed.protocol}//`);
  const hostname = parsed.hostname.replace(/^\[|\]$/g, '');
  if (!hostname) throw new ConfigError('amqp url has no host');
  const port = parsed.port ? Number(parsed.port) : secure ? 5671 : 5672;
  const vhost = parsed.pathname.length > 1 ? decodeURIComponent(parsed.pathname.slice(1)) : '/';
  const heartbeat = readHeartbeat(parsed.searchParams.get('heartbeat'));
  if (tls && !secure) throw new ConfigError('amqp tls options need an amqps:// url');
  const connect: Options.Connect = {
    protocol: secure ? 'amqps' : 'amqp',
    hostname,
    port,
    username: parsed.username ? decodeURIComponent(parsed.username) : 'guest',
    password: parsed.password ? decodeURIComponent(parsed.password) : 'guest',
    vhost,
    heartbeat,
  };
  const socket: SocketOptions = {
    ...(secure ? tls : undefined),
    timeout: 10_000,
    noDelay: true,
    clientProperties: { connection_name: connectionName },
  };
  return { connect, socket, where: { host: hostname, port, vhost, tls: secure }, insecureTls: secure && tls?.rejectUnauthorized === false };
}

function readHeartbeat(raw: string | null): number {
  if (raw === null) return defaultHeartbeatSeconds;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new ConfigError(`amqp heartbeat must be an integer number of seconds >= 1, got ${raw}`);
  return Math.min(value, maxHeartbeatSeconds);
}
