/**
 * An ordinary braid app, configured the way a deployed app is: its connection URLs and prefix come from the
 * environment (BRAID_BROKER_URL, BRAID_STORE_URL, BRAID_PREFIX), nothing else does. test/brokers/amqp-switch
 * runs this same module on redis:// and on amqp:// by changing BRAID_BROKER_URL alone.
 */
import { pino } from 'pino';
import { chain, chord, createApp, group, type ErrbackInfo } from '../../../src/index.js';

/** Thrown by `orders.reserve` on its first attempt (retried automatically). */
export class OutOfStock extends Error {
  override readonly name = 'OutOfStock';
}

export const app = createApp({
  broker: process.env.BRAID_BROKER_URL,
  store: process.env.BRAID_STORE_URL,
  prefix: process.env.BRAID_PREFIX,
  logger: pino({ level: process.env.BRAID_LOG_LEVEL ?? 'warn' }, pino.destination(2)),
  defaults: { retryDelayMs: 20, retryJitter: false },
  routes: { 'mail.*': { queue: 'mail' } },
});

const alerts: string[] = [];

export const price = app.task('orders.price', (_ctx, sku: string, qty: number) => ({ sku, cents: qty * 250 }));
export const total = app.task('orders.total', (_ctx, lines: Array<{ cents: number }>) => lines.reduce((sum, line) => sum + line.cents, 0));
export const reserve = app.task('orders.reserve', (ctx, cents: number) => {
  if (ctx.attempt === 1) throw new OutOfStock('restocking');
  return { cents, reservedOnAttempt: ctx.attempt };
}, { autoretryFor: ['OutOfStock'], maxRetries: 2 });
export const send = app.task('mail.send', (ctx, order: { cents: number }) => `mailed ${order.cents} (${ctx.idempotencyKey})`);
export const charge = app.task('orders.charge', (_ctx, cents: number): number => {
  throw new Error(`card declined for ${cents}`);
});
export const alert = app.task('mail.alert', (_ctx, info: ErrbackInfo) => {
  alerts.push(`${info.nodeId}: ${info.error.message}`);
  return null;
});
export const split = app.task('orders.split', (ctx, skus: string[]): Array<{ sku: string; cents: number }> =>
  ctx.replace(group(skus.map((sku) => price.s(sku, 1)))));

/** The workflows the app runs, by id. */
export function workflows() {
  return {
    'order-1': chain(chord([price.s('apple', 2), price.s('pear', 3)], total.s()), reserve.s(), send.s()),
    'order-2': chain(price.s('plum', 1).set({ countdownMs: 300 }), send.si({ cents: 0 })),
    'order-3': chain(total.s([{ cents: 100 }]), charge.s()).onError(alert.s()),
    'order-4': chain(split.s(['a', 'b', 'c']), total.s()),
  };
}

/** Errback reports heard by this process. */
export function alertsHeard(): readonly string[] {
  return alerts;
}
