/**
 * The demo's order pipeline: tasks with small artificial delays and the fake services they call, composed
 * into one canvas. A real app looks the same, with real services and a redis:// or amqp:// broker.
 *
 * validate → reserve → chord(price each line, in parallel → total) → charge → group(ship, gift-wrap) → confirm,
 * with an errback that alerts operations when any node fails for good.
 */
import type { Logger } from 'pino';
import { chain, chord, group } from '../../canvas/builders.js';
import { createApp } from '../../runtime/app.js';
import type { TaskContext } from '../../runtime/context.js';

/** One order line. */
export interface Line { sku: string; qty: number; unitCents: number }
/** An order as the shop stores it. */
export interface Order { id: string; email: string; lines: Line[] }
/** Stock held for an order. */
export interface Reservation { orderId: string; reservation: string }
/** What the payment gateway answers. */
export interface Charge { orderId: string; chargeId: string; amountCents: number }

/** The gateway answered too late: the charge may or may not have gone through. Retried automatically. */
export class GatewayTimeout extends Error {
  override readonly name = 'GatewayTimeout';
}

/** A downstream service refuses requests. */
export class ServiceUnavailable extends Error {
  override readonly name = 'ServiceUnavailable';
}

/** The order the demo places. */
export const ORDER: Order = {
  id: 'A-1001',
  email: 'ada@example.com',
  lines: [
    { sku: 'mug-blue', qty: 2, unitCents: 1200 },
    { sku: 'tea-sampler', qty: 1, unitCents: 2450 },
    { sku: 'spoon-set', qty: 3, unitCents: 700 },
  ],
};

/** The fake outside world the tasks talk to, and what the demo observes of it. */
export class Services {
  /** Flip to true to "fix" the gift-wrap service. */
  giftWrapUp = false;
  /** Charges by idempotency key: a retried charge with the same key is not charged twice. */
  readonly charges = new Map<string, Charge>();
  /** Calls the gateway received. */
  gatewayCalls = 0;
  /** Executions per node id (every attempt of every run). */
  readonly runs = new Map<string, number>();
  /** Alerts the errback raised. */
  readonly alerts: string[] = [];
  /** The shop's orders: tasks get ids and look the rest up, so arguments stay small. */
  readonly orders = new Map<string, Order>([[ORDER.id, ORDER]]);

  /** The order with this id. */
  order(id: string): Order {
    const order = this.orders.get(id);
    if (!order) throw new Error(`no order ${id}`);
    return order;
  }

  /** Charges once per key. The first call ever charges, then times out before answering. */
  charge(key: string, orderId: string, amountCents: number): Charge {
    this.gatewayCalls += 1;
    const existing = this.charges.get(key);
    const charge = existing ?? { orderId, chargeId: `ch_${(this.charges.size + 1).toString().padStart(4, '0')}`, amountCents };
    this.charges.set(key, charge);
    if (this.gatewayCalls === 1) throw new GatewayTimeout('payment gateway did not answer within 200 ms');
    return charge;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The canvas the demo starts, as a reader would write it (printed by the demo). */
export const CANVAS_SOURCE = `chain(
    validate.s(order.id), reserve.s(),
    chord(order.lines.map((_, i) => price.s(i)), total.s()),
    charge.s(order.id), group(ship.s(), giftWrap.s()), confirm.s(order.email),
  ).onError(alert.s())`;

/** The demo app on the embedded default (memory:// broker and store), its tasks and the canvas to start. */
export function buildPipeline(services: Services, logger: Logger) {
  const app = createApp({ logger });
  const step = async (ctx: TaskContext, ms: number): Promise<void> => {
    services.runs.set(ctx.nodeId, (services.runs.get(ctx.nodeId) ?? 0) + 1);
    await sleep(ms);
  };

  const validate = app.task('orders.validate', async (ctx, orderId: string) => {
    await step(ctx, 250);
    if (services.order(orderId).lines.length === 0) throw new Error('an order needs at least one line');
    return orderId;
  });
  const reserve = app.task('stock.reserve', async (ctx, orderId: string): Promise<Reservation> => {
    await step(ctx, 300);
    return { orderId, reservation: 'R-7731' };
  });
  const price = app.task('pricing.line', async (ctx, held: Reservation, index: number) => {
    await step(ctx, 350 + 150 * index);
    const line = services.order(held.orderId).lines[index]!;
    return line.qty * line.unitCents;
  });
  const total = app.task('pricing.total', async (ctx, cents: number[]) => {
    await step(ctx, 200);
    return cents.reduce((sum, c) => sum + c, 0);
  });
  const charge = app.task('payments.charge', async (ctx, amountCents: number, orderId: string) => {
    await step(ctx, 300);
    // The idempotency key is the same on every attempt: a retry after a timeout never charges twice.
    return services.charge(ctx.idempotencyKey, orderId, amountCents);
  }, { autoretryFor: [GatewayTimeout], maxRetries: 3, retryBackoff: true, retryDelayMs: 500, retryJitter: false });
  const ship = app.task('shipping.ship', async (ctx, paid: Charge) => {
    await step(ctx, 400);
    return { orderId: paid.orderId, tracking: '1Z999AA10123456784' };
  });
  const giftWrap = app.task('giftwrap.wrap', async (ctx, paid: Charge) => {
    await step(ctx, 250);
    if (!services.giftWrapUp) throw new ServiceUnavailable('gift-wrap service is down (HTTP 503)');
    return { orderId: paid.orderId, paper: 'blue, with a bow' };
  }, { autoretryFor: [ServiceUnavailable], maxRetries: 1, retryDelayMs: 400 });
  const confirm = app.task('email.confirm', async (ctx, parcels: [{ tracking: string }, { paper: string }], email: string) => {
    await step(ctx, 200);
    return { sentTo: email, tracking: parcels[0].tracking, giftWrap: parcels[1].paper };
  });
  const alert = app.task('ops.alert', async (ctx, failure: { task: string; error: { message: string } }) => {
    await step(ctx, 100);
    services.alerts.push(`${failure.task}: ${failure.error.message}`);
    return null; // no result to keep (a handler must return JSON: undefined is refused)
  });

  const order = ORDER;
  const canvas = chain(
    validate.s(order.id), reserve.s(),
    chord(order.lines.map((_, i) => price.s(i)), total.s()),
    charge.s(order.id), group(ship.s(), giftWrap.s()), confirm.s(order.email),
  ).onError(alert.s());
  return { app, canvas };
}
