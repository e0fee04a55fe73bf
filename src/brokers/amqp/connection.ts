/**
 * One AMQP connection that reconnects by itself. amqplib leaves a closed connection closed (its optional
 * `recovery` does not rebuild channels or consumers), so this class redials with exponential backoff and
 * jitter after any loss (server restart, `rabbitmqctl close_connection`, socket reset, missed heartbeats) and
 * tells its listeners, which re-open their channels and re-consume.
 *
 * States: `connecting` (first dial, `open()`), `up` (a live model), `down` (lost; a redial is scheduled),
 * `closed` (after `close()`; terminal). Only `open()` fails: later dials retry forever until `close()`.
 */
import { connect, type ChannelModel } from 'amqplib';
import type { Logger } from 'pino';
import { ConfigError } from '../../core/errors.js';
import { BrokerClosedError } from './errors.js';
import type { ResolvedConnection } from './options.js';

/** Reconnect backoff: first wait and cap in ms. */
export interface Backoff {
  initialMs: number;
  maxMs: number;
}

const defaultBackoff: Backoff = { initialMs: 100, maxMs: 5_000 };

interface Waiter {
  resolve(model: ChannelModel): void;
  reject(error: Error): void;
}

/** A connection that redials after every loss until closed. */
export class ManagedConnection {
  private model: ChannelModel | undefined;
  private closed = false;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<(model: ChannelModel) => void>();
  private readonly waiters = new Set<Waiter>();

  constructor(
    private readonly resolved: ResolvedConnection,
    private readonly logger: Logger,
    private readonly backoff: Backoff = defaultBackoff,
  ) {}

  /** Dials once; `ConfigError` when the server cannot be reached or refuses the credentials or vhost. */
  async open(): Promise<void> {
    try {
      await this.dial();
    } catch (cause) {
      const { host, port, vhost } = this.resolved.where;
      throw new ConfigError(`cannot connect to amqp at ${host}:${port} vhost ${vhost}: ${describe(cause)}`, { cause });
    }
  }

  /** The live connection, if any. */
  get current(): ChannelModel | undefined {
    return this.model;
  }

  /** The server's version string (e.g. `3.10.8`), once connected. */
  get serverVersion(): string | undefined {
    const version = this.model?.connection.serverProperties.version;
    return version === undefined ? undefined : String(version);
  }

  /** Resolves with the live connection, waiting through a redial; rejects once closed. */
  ready(): Promise<ChannelModel> {
    if (this.closed) return Promise.reject(new BrokerClosedError());
    if (this.model) return Promise.resolve(this.model);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve: (model) => (this.waiters.delete(waiter), resolve(model)),
        reject: (error) => (this.waiters.delete(waiter), reject(error)),
      };
      this.waiters.add(waiter);
    });
  }

  /** Calls `listener` after every redial (not the first dial). Returns a function that removes it. */
  onReconnect(listener: (model: ChannelModel) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Closes the connection and stops redialing. Pending `ready()` calls reject with `BrokerClosedError`. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    for (const waiter of [...this.waiters]) waiter.reject(new BrokerClosedError());
    const model = this.model;
    this.model = undefined;
    if (model) await model.close().catch(() => undefined);
  }

  private async dial(): Promise<void> {
    const model = await connect(this.resolved.connect, this.resolved.socket);
    if (this.closed) {
      await model.close().catch(() => undefined);
      throw new BrokerClosedError();
    }
    model.on('error', (error: Error) => this.logger.warn({ err: describe(error) }, 'amqp connection error'));
    model.on('blocked', (reason: string) => this.logger.warn({ reason }, 'amqp connection blocked by the server (resource alarm)'));
    model.on('unblocked', () => this.logger.info('amqp connection unblocked'));
    model.on('close', (error?: Error) => this.lost(model, error));
    this.model = model;
    for (const waiter of [...this.waiters]) waiter.resolve(model);
  }

  private lost(model: ChannelModel, error: Error | undefined): void {
    if (this.model !== model) return;
    this.model = undefined;
    if (this.closed) return;
    this.logger.warn({ err: error ? describe(error) : undefined }, 'amqp connection lost; reconnecting');
    this.schedule();
  }

  private schedule(): void {
    const base = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** this.attempt);
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    this.attempt += 1;
    this.timer = setTimeout(() => void this.redial(), delay);
  }

  private async redial(): Promise<void> {
    if (this.closed) return;
    try {
      await this.dial();
    } catch (error) {
      if (this.closed) return;
      this.logger.warn({ err: describe(error), attempt: this.attempt }, 'amqp reconnect failed');
      this.schedule();
      return;
    }
    this.logger.info({ attempts: this.attempt }, 'amqp reconnected');
    this.attempt = 0;
    const model = this.model;
    if (!model) return;
    for (const listener of [...this.listeners]) {
      try {
        listener(model);
      } catch (error) {
        this.logger.error({ err: describe(error) }, 'amqp reconnect listener failed');
      }
    }
  }
}

/** A short, credential-free description of an error for logs and messages. */
export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
