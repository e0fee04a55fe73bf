/**
 * Test helper: collects deliveries and lets a test wait for the n-th one with a bounded timeout (an event,
 * never a sleep standing in for one).
 */
import type { Delivery } from '../../src/brokers/broker.js';

/** Deliveries received by one consumer callback, in arrival order. */
export class Inbox {
  /** Every delivery received so far. */
  readonly items: Delivery[] = [];
  private waiters: Array<{ done: () => boolean; resolve: () => void }> = [];
  private hook: ((delivery: Delivery) => void) | undefined;

  /** The callback to pass to `broker.consume`. */
  readonly onDelivery = (delivery: Delivery): void => {
    this.items.push(delivery);
    this.hook?.(delivery);
    this.waiters = this.waiters.filter((waiter) => {
      if (!waiter.done()) return true;
      waiter.resolve();
      return false;
    });
  };

  /** Runs `hook` on each delivery as it arrives (e.g. to ack at once). */
  onEach(hook: (delivery: Delivery) => void): this {
    this.hook = hook;
    return this;
  }

  /** Bodies received so far, as UTF-8 strings. */
  bodies(): string[] {
    return this.items.map((delivery) => delivery.body.toString('utf8'));
  }

  /** Resolves once `count` deliveries have arrived in total; rejects after `timeoutMs`. */
  async waitFor(count: number, timeoutMs = 5_000): Promise<Delivery[]> {
    await this.waitUntil(() => this.items.length >= count, timeoutMs, `${count} deliveries`);
    return this.items.slice(0, count);
  }

  /** Resolves once `done()` holds, checked now and after each delivery; rejects after `timeoutMs`. */
  async waitUntil(done: () => boolean, timeoutMs = 5_000, what = 'a condition'): Promise<void> {
    if (done()) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((waiter) => waiter.resolve !== finish);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (got ${this.items.length}: ${this.bodies().join(', ')})`));
      }, timeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.waiters.push({ done, resolve: finish });
    });
  }
}
