/**
 * Publishing with publisher confirms (RELIABILITY D8, S9). Every message goes through the default exchange to
 * a queue by name, persistent and `mandatory`, on a ConfirmChannel; `publish` resolves only on the server's
 * `basic.ack`. A `basic.return` before the ack means no such queue (not declared): `ConfigError`, at once.
 * A nack, a channel or connection closed before the confirm, or no connection at all: the message is sent
 * again on the next channel, with backoff, until `publishTimeoutMs` has passed since the call; then
 * `BrokerUnavailableError`. A channel closed by `ACCESS_REFUSED` (no write permission) is a `ConfigError` at once.
 * Re-sending after a lost confirm can queue a message twice; duplicates are harmless
 * (DESIGN inv 2) and a silent drop is not.
 */
import { randomUUID } from 'node:crypto';
import type { ConfirmChannel, Options } from 'amqplib';
import type { Logger } from 'pino';
import { ConfigError } from '../../core/errors.js';
import { describe, type ManagedConnection } from './connection.js';
import { BrokerClosedError, BrokerUnavailableError } from './errors.js';

/** One message to publish. */
export interface OutgoingMessage {
  /** The queue name the caller used, for errors. */
  queue: string;
  /** The full queue name it is sent to. */
  target: string;
  body: Buffer;
  headers?: Record<string, unknown>;
  priority?: number;
}

/** Sends messages with confirms on one ConfirmChannel of a managed connection, re-opened when lost. */
export class ConfirmPublisher {
  private channel: ConfirmChannel | undefined;
  private opening: Promise<ConfirmChannel> | undefined;
  private readonly returned = new Set<string>();
  private readonly closeErrors = new WeakMap<ConfirmChannel, Error>();
  private closed = false;

  constructor(
    private readonly connection: ManagedConnection,
    private readonly logger: Logger,
    private readonly timeoutMs: number,
  ) {}

  /** Resolves once the server confirmed the message; see the module comment for the failure cases. */
  async publish(message: OutgoingMessage): Promise<void> {
    const deadline = Date.now() + this.timeoutMs;
    let lastError: unknown;
    for (let attempt = 0; ; attempt++) {
      if (this.closed) throw new BrokerClosedError();
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new BrokerUnavailableError(message.queue, `publish to ${message.target} not confirmed within ${this.timeoutMs} ms: ${describe(lastError)}`, {
          cause: lastError,
        });
      }
      let channel: ConfirmChannel | undefined;
      try {
        channel = await withTimeout(this.channelFor(), remaining, 'no amqp connection');
        await this.sendOnce(channel, message, remaining);
        return;
      } catch (error) {
        if (error instanceof ConfigError || error instanceof BrokerClosedError) throw error;
        const closedBy = channel && this.closeErrors.get(channel);
        if (closedBy && (closedBy as { code?: unknown }).code === 403) {
          throw new ConfigError(`amqp refused the publish to ${message.target} (check the user's write permission, amq.default included): ${describe(closedBy)}`, { cause: closedBy });
        }
        lastError = error;
        if (attempt === 0) this.logger.warn({ queue: message.queue, err: describe(error) }, 'amqp publish not confirmed; retrying');
        await sleep(Math.min(deadline - Date.now(), 50 * 2 ** Math.min(attempt, 5)));
      }
    }
  }

  /** Closes the channel; later publishes reject with `BrokerClosedError`. */
  async close(): Promise<void> {
    this.closed = true;
    const channel = this.channel;
    this.channel = undefined;
    if (channel) await channel.close().catch(() => undefined);
  }

  private sendOnce(channel: ConfirmChannel, message: OutgoingMessage, timeoutMs: number): Promise<void> {
    const messageId = randomUUID();
    const options: Options.Publish = { persistent: true, mandatory: true, messageId, timestamp: Math.floor(Date.now() / 1000) };
    if (message.headers) options.headers = message.headers;
    if (message.priority !== undefined) options.priority = message.priority;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.returned.delete(messageId);
        reject(new Error(`no confirm within ${timeoutMs} ms`));
      }, timeoutMs);
      try {
        channel.sendToQueue(message.target, message.body, options, (error: unknown) => {
          clearTimeout(timer);
          const wasReturned = this.returned.delete(messageId);
          if (error) reject(error instanceof Error ? error : new Error(String(error)));
          else if (wasReturned) reject(new ConfigError(`amqp queue ${message.target} does not exist; declare() it first`));
          else resolve();
        });
      } catch (error) {
        clearTimeout(timer);
        reject(error);
      }
    });
  }

  private channelFor(): Promise<ConfirmChannel> {
    if (this.channel) return Promise.resolve(this.channel);
    this.opening ??= this.open().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  private async open(): Promise<ConfirmChannel> {
    const model = await this.connection.ready();
    const channel = await model.createConfirmChannel();
    channel.on('error', (error: Error) => {
      this.closeErrors.set(channel, error);
      this.logger.warn({ err: describe(error) }, 'amqp publish channel error');
    });
    channel.on('return', (returned: { properties: { messageId?: unknown } }) => {
      const id = returned.properties.messageId;
      if (typeof id === 'string') this.returned.add(id);
    });
    channel.on('close', () => {
      if (this.channel === channel) this.channel = undefined;
    });
    if (this.closed) {
      await channel.close().catch(() => undefined);
      throw new BrokerClosedError();
    }
    this.channel = channel;
    return channel;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
    promise.then(
      (value) => (clearTimeout(timer), resolve(value)),
      (error: unknown) => (clearTimeout(timer), reject(error)),
    );
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
