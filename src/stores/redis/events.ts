/**
 * Settle and cancel notifications (DESIGN inv 7): the scripts PUBLISH settles on `${prefix}:events` and cancels
 * on `${prefix}:events:canceled` (cancel.lua), so a worker, which listens for cancels only, is not sent every
 * settle (one per workflow: on 20,000 one-task workflows, about 7 µs of Node CPU and 2 µs of Redis CPU each),
 * and a server with no result waiter sends settles to nobody. This feed listens on a dedicated subscriber
 * connection (a connection in subscribe mode can run nothing else), made at the first `subscribe()`, on the
 * channels of the event types its listeners want. ioredis re-subscribes by itself after a reconnect (`autoResubscribe`); events
 * published while the link was down are lost, which is why waiters keep a slow poll as a fallback.
 *
 * A subscriber never writes, so on its own it would never notice a half-open link (RELIABILITY D3: the
 * server restarted behind a partition): PUBLISH would reach nobody, for good. A watchdog PINGs it every
 * {@link SUBSCRIBER_PING_MS} and, when no answer comes within {@link SUBSCRIBER_PING_TIMEOUT_MS}, drops the
 * connection so ioredis reconnects and re-subscribes (found by fault scenario F2).
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { WORKFLOW_STATES, type WorkflowState } from '../../runtime/machines.js';
import type { StoreEvent } from '../store.js';
import { closeClient } from './connection.js';

/**
 * Largest result text (bytes of UTF-8) a `settled` event carries (StoreEvent `result`); the Lua prelude gets
 * it from here. The memory store keeps the same limit (the store contract checks both at the boundary).
 */
export const SETTLED_RESULT_MAX_BYTES = 16 * 1024;

/**
 * The head of a succeeded settle that carries its result, as finish() in advance.lua writes it: the result's
 * raw JSON text follows, then the closing `}`. Workflow ids never need escaping (keys.ts alphabet).
 */
const SETTLED_WITH_RESULT = /^\{"type":"settled","workflowId":"([A-Za-z0-9._:-]{1,128})","state":"succeeded","result":/;

/**
 * Parses one published event; null for anything malformed (never trusted, never thrown). A succeeded settle
 * may carry the result's raw JSON text, which is sliced out as it was stored, not parsed here: the waiter
 * parses it with the checks of a store read (runtime/settle-watch.ts) and reads the store when it does not.
 */
export function parseEvent(text: string): StoreEvent | null {
  const withResult = SETTLED_WITH_RESULT.exec(text);
  if (withResult && text.endsWith('}')) {
    return { type: 'settled', workflowId: withResult[1]!, state: 'succeeded', result: text.slice(withResult[0].length, -1) };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const { type, workflowId, state } = value as Record<string, unknown>;
  if (typeof workflowId !== 'string') return null;
  if (type === 'canceled') return { type, workflowId };
  if (type === 'settled' && WORKFLOW_STATES.includes(state as WorkflowState)) {
    return { type, workflowId, state: state as WorkflowState };
  }
  return null;
}

/** How often the subscriber connection is checked. */
export const SUBSCRIBER_PING_MS = 5_000;
/** How long a check waits for PONG before the connection is dropped and remade. */
export const SUBSCRIBER_PING_TIMEOUT_MS = 2_000;

/** The channel cancels are published on, beside `channel` (settles): cancel.lua appends the same suffix. */
export function canceledChannel(channel: string): string {
  return `${channel}:canceled`;
}

/** The event types a listener hears. */
export type EventTypes = ReadonlyArray<StoreEvent['type']>;
const ALL_TYPES: EventTypes = ['settled', 'canceled'];

/** The listeners of one store and the subscriber connection they share. */
export class EventFeed {
  private readonly listeners = new Map<(event: StoreEvent) => void, EventTypes>();
  private subscriber: Promise<Redis> | undefined;
  /** The channels subscribed (or being subscribed) on the subscriber connection. */
  private readonly channels = new Map<string, Promise<unknown>>();
  private watchdog: NodeJS.Timeout | undefined;

  constructor(
    private readonly main: Redis,
    private readonly channel: string,
    private readonly logger?: Logger,
  ) {}

  /**
   * Adds a listener of some event types (default both); resolves once their channels are subscribed. Returns
   * the unsubscribe function.
   */
  async add(listener: (event: StoreEvent) => void, types: EventTypes = ALL_TYPES): Promise<() => void> {
    this.subscriber ??= this.open();
    this.listeners.set(listener, types);
    try {
      const sub = await this.subscriber;
      await Promise.all(types.map((type) => this.listen(sub, type === 'settled' ? this.channel : canceledChannel(this.channel))));
    } catch (error) {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) await this.close();
      throw error;
    }
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Subscribes `channel` once on the subscriber connection (ioredis re-subscribes it after a reconnect). */
  private listen(sub: Redis, channel: string): Promise<unknown> {
    let subscribed = this.channels.get(channel);
    if (subscribed === undefined) {
      subscribed = sub.subscribe(channel);
      this.channels.set(channel, subscribed);
      subscribed.catch(() => this.channels.delete(channel));
    }
    return subscribed;
  }

  /** Drops every listener and closes the subscriber connection. */
  async close(): Promise<void> {
    this.listeners.clear();
    this.channels.clear();
    clearInterval(this.watchdog);
    this.watchdog = undefined;
    const pending = this.subscriber;
    this.subscriber = undefined;
    const sub = await pending?.catch(() => undefined);
    if (sub) await closeClient(sub, 200);
  }

  /** The subscriber connection, with its handlers and watchdog; channels are subscribed by {@link EventFeed.add}. */
  private async open(): Promise<Redis> {
    // No socketTimeout: a subscriber writes nothing but the watchdog's PING, which has a bound of its own.
    const sub = this.main.duplicate({ socketTimeout: undefined });
    sub.on('error', (error: Error) => this.logger?.debug({ err: error.message }, 'redis store subscriber error'));
    const cancels = canceledChannel(this.channel);
    sub.on('message', (channel: string, text: string) => {
      if (channel !== this.channel && channel !== cancels) return;
      const event = parseEvent(text);
      if (!event) {
        this.logger?.warn({ channel }, 'redis store: malformed event ignored');
        return;
      }
      for (const [listener, types] of this.listeners) {
        if (!types.includes(event.type)) continue;
        try {
          listener(event);
        } catch (error) {
          this.logger?.error({ err: error instanceof Error ? error.message : String(error) }, 'store event listener threw');
        }
      }
    });
    this.watch(sub);
    return sub;
  }

  /** PINGs the subscriber; a missing PONG means a dead link, so it is dropped and ioredis reconnects. */
  private watch(sub: Redis): void {
    let checking = false;
    this.watchdog = setInterval(() => {
      if (checking || sub.status !== 'ready') return;
      checking = true;
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), SUBSCRIBER_PING_TIMEOUT_MS)));
      Promise.race([sub.ping().then(() => 'ok' as const, () => 'late' as const), late])
        .then((answer) => {
          if (answer === 'late') {
            this.logger?.warn({ channel: this.channel }, 'redis store subscriber did not answer PING; reconnecting');
            sub.disconnect(true);
          }
        })
        .finally(() => {
          clearTimeout(timer);
          checking = false;
        });
    }, SUBSCRIBER_PING_MS);
    this.watchdog.unref();
  }
}
