/**
 * The Broker contract, written once and run against every broker (STYLE: one conformance suite per interface).
 * Every wait is on a delivery event with a bounded timeout; no sleep stands in for an event.
 *
 * @example
 * brokerContract('memory', async () => {
 *   const broker = new MemoryBroker();
 *   return { broker, cleanup: () => broker.close() };
 * }, { priorities: true });
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import type { Broker, ConsumeOptions, Consumer, Delivery } from '../../src/brokers/broker.js';
import { ConfigError } from '../../src/core/errors.js';
import { Inbox } from './inbox.js';

/** A broker made for one test case, and how to dispose of it. */
export interface BrokerFixture {
  /** A connected broker with a fresh namespace. */
  broker: Broker;
  /** Closes the broker and removes everything it created. */
  cleanup: () => Promise<void>;
  /** For remote brokers: another connected instance on the same server and namespace (the test closes it). */
  sibling?: () => Promise<Broker>;
}

/** What the broker under test supports beyond the base contract. */
export interface BrokerCapabilities {
  /** Priorities 0-9 are honoured (higher first, FIFO within one). */
  priorities?: boolean;
  /** `leaseMs` passed to every consumer (default: the broker's own). */
  leaseMs?: number;
  /** Bound on waiting for one event (default 5,000 ms). */
  timeoutMs?: number;
  /** Consumers lend prefetch slots without a delivery (Consumer.hold); else they must not offer `hold`. */
  holdsSlots?: boolean;
}

const text = (delivery: Delivery): string => delivery.body.toString('utf8');

/** Registers the contract cases for one broker; `make` is called once per case. */
export function brokerContract(name: string, make: () => Promise<BrokerFixture>, capabilities: BrokerCapabilities = {}): void {
  const timeout = capabilities.timeoutMs ?? 5_000;
  const options = (prefetch: number): ConsumeOptions =>
    capabilities.leaseMs === undefined ? { prefetch } : { prefetch, leaseMs: capabilities.leaseMs };

  /** Runs `body` with a fresh fixture and a fresh queue name; stops consumers and cleans up afterwards. */
  async function withBroker(
    body: (ctx: { broker: Broker; fixture: BrokerFixture; queue: string; consumers: Consumer[] }) => Promise<void>,
  ): Promise<void> {
    const fixture = await make();
    const consumers: Consumer[] = [];
    try {
      await body({ broker: fixture.broker, fixture, queue: `q-${randomUUID().slice(0, 8)}`, consumers });
    } finally {
      for (const consumer of consumers) await consumer.stop().catch(() => undefined);
      await fixture.cleanup();
    }
  }

  const publishAll = async (broker: Broker, queue: string, bodies: string[], priority?: number): Promise<void> => {
    for (const body of bodies) await broker.publish(queue, Buffer.from(body), priority === undefined ? {} : { priority });
  };

  describe(`Broker contract: ${name}`, () => {
    it('publishes, delivers the exact body once, and acks', () =>
      withBroker(async ({ broker, queue, consumers }) => {
        await broker.declare([queue]);
        const inbox = new Inbox();
        consumers.push(await broker.consume([queue], options(1), inbox.onDelivery));
        const body = Buffer.from([0x7b, 0x00, 0xff, 0x7d]);
        await broker.publish(queue, body);
        const [delivery] = await inbox.waitFor(1, timeout);
        assert.ok(delivery);
        assert.equal(delivery.queue, queue);
        assert.deepEqual(Buffer.from(delivery.body), body);
        assert.equal(delivery.redelivered, false);
        await delivery.ack();
      }));

    it('keeps FIFO order within a priority', () =>
      withBroker(async ({ broker, queue, consumers }) => {
        const bodies = Array.from({ length: 20 }, (_, i) => `m${i}`);
        await publishAll(broker, queue, bodies);
        const inbox = new Inbox().onEach((delivery) => void delivery.ack());
        consumers.push(await broker.consume([queue], options(1), inbox.onDelivery));
        await inbox.waitFor(20, timeout);
        assert.deepEqual(inbox.bodies(), bodies);
      }));

    if (capabilities.priorities === true) {
      it('delivers higher priorities first, FIFO within each', () =>
        withBroker(async ({ broker, queue, consumers }) => {
          for (let i = 0; i < 3; i += 1) {
            await publishAll(broker, queue, [`p0-${i}`], 0);
            await publishAll(broker, queue, [`p9-${i}`], 9);
            await publishAll(broker, queue, [`p5-${i}`], 5);
          }
          const inbox = new Inbox().onEach((delivery) => void delivery.ack());
          consumers.push(await broker.consume([queue], options(1), inbox.onDelivery));
          await inbox.waitFor(9, timeout);
          assert.deepEqual(inbox.bodies(), ['p9-0', 'p9-1', 'p9-2', 'p5-0', 'p5-1', 'p5-2', 'p0-0', 'p0-1', 'p0-2']);
        }));
    }

    it('holds a delayed message until it is due, then delivers it', () =>
      withBroker(async ({ broker, queue, consumers }) => {
        const delayMs = 300;
        const start = Date.now();
        await broker.publish(queue, Buffer.from('later'), { delayMs });
        await broker.publish(queue, Buffer.from('now'));
        const arrivals: number[] = [];
        const inbox = new Inbox().onEach((delivery) => {
          arrivals.push(Date.now());
          void delivery.ack();
        });
        consumers.push(await broker.consume([queue], options(4), inbox.onDelivery));
        await inbox.waitFor(2, timeout + delayMs);
        assert.deepEqual(inbox.bodies(), ['now', 'later']);
        assert.ok((arrivals[1] as number) - start >= delayMs - 5, `delivered after ${(arrivals[1] as number) - start} ms`);
      }));

    it('never hands out more than prefetch unacked deliveries', () =>
      withBroker(async ({ broker, queue, consumers }) => {
        const total = 30;
        const prefetch = 3;
        await publishAll(broker, queue, Array.from({ length: total }, (_, i) => `m${i}`));
        let outstanding = 0;
        let most = 0;
        const acks: Promise<void>[] = [];
        let allAcked!: () => void;
        const acked = new Promise<void>((resolve) => (allAcked = resolve));
        const inbox = new Inbox().onEach((delivery) => {
          outstanding += 1;
          most = Math.max(most, outstanding);
          setImmediate(() => {
            outstanding -= 1;
            acks.push(delivery.ack());
            if (acks.length === total) allAcked();
          });
        });
        consumers.push(await broker.consume([queue], options(prefetch), inbox.onDelivery));
        await inbox.waitFor(total, timeout);
        await acked;
        await Promise.all(acks);
        assert.ok(most <= prefetch, `saw ${most} unacked at once with prefetch ${prefetch}`);
        assert.equal(new Set(inbox.bodies()).size, total);
      }));

    if (!capabilities.holdsSlots) {
      it('offers no slot holding (Consumer.hold), so workers ask for no continuations', () =>
        withBroker(async ({ broker, queue, consumers }) => {
          const consumer = await broker.consume([queue], options(2), () => undefined);
          consumers.push(consumer);
          assert.equal(consumer.hold, undefined);
        }));
    } else it('counts a held slot against prefetch until it is given back', () =>
      withBroker(async ({ broker, queue, consumers }) => {
        const inbox = new Inbox();
        const consumer = await broker.consume([queue], options(2), inbox.onDelivery);
        consumers.push(consumer);
        assert.ok(consumer.hold);
        let unacked = 0;
        let holds = 0;
        let most = 0;
        inbox.onEach(() => {
          unacked += 1;
          most = Math.max(most, unacked + holds);
        });
        const ack = async (delivery: Delivery | undefined): Promise<void> => {
          unacked -= 1;
          await delivery!.ack();
        };
        await broker.publish(queue, Buffer.from('a'));
        const [a] = await inbox.waitFor(1, timeout);
        const free = consumer.hold();
        holds += 1;
        await ack(a); // the slot a leaves stays taken by the hold
        await broker.publish(queue, Buffer.from('b'));
        await broker.publish(queue, Buffer.from('c'));
        const [, b] = await inbox.waitFor(2, timeout);
        await ack(b); // room for c
        const [, , c] = await inbox.waitFor(3, timeout);
        holds -= 1;
        free();
        free(); // a second call gives back nothing more
        await broker.publish(queue, Buffer.from('d'));
        const [, , , d] = await inbox.waitFor(4, timeout);
        await ack(c);
        await ack(d);
        assert.deepEqual(inbox.bodies(), ['a', 'b', 'c', 'd']);
        assert.ok(most <= 2, `saw ${most} unacked deliveries and held slots at once with prefetch 2`);
      }));

    it('returns unacked deliveries when their consumer stops, marked redelivered', () =>
      withBroker(async ({ broker, queue, consumers }) => {
        await publishAll(broker, queue, ['a', 'b', 'c']);
        const first = new Inbox();
        const stopping = await broker.consume([queue], options(5), first.onDelivery);
        await first.waitFor(3, timeout);
        await stopping.stop();
        const second = new Inbox().onEach((delivery) => void delivery.ack());
        consumers.push(await broker.consume([queue], options(5), second.onDelivery));
        await second.waitFor(3, timeout);
        assert.deepEqual([...second.bodies()].sort(), ['a', 'b', 'c']);
        assert.ok(second.items.every((delivery) => delivery.redelivered));
      }));

    it('gives a released delivery back, marked redelivered', () =>
      withBroker(async ({ broker, queue, consumers }) => {
        await broker.publish(queue, Buffer.from('again'));
        const inbox = new Inbox();
        consumers.push(await broker.consume([queue], options(1), inbox.onDelivery));
        const [first] = await inbox.waitFor(1, timeout);
        assert.ok(first);
        await first.release();
        const [, second] = await inbox.waitFor(2, timeout);
        assert.ok(second);
        assert.equal(text(second), 'again');
        assert.equal(second.redelivered, true);
        await second.ack();
      }));

    it('dead-letters with reason, detail and body, and removes the message', () =>
      withBroker(async ({ broker, queue, consumers }) => {
        await broker.publish(queue, Buffer.from('{bad'));
        const inbox = new Inbox();
        const consumer = await broker.consume([queue], options(2), inbox.onDelivery);
        const [delivery] = await inbox.waitFor(1, timeout);
        assert.ok(delivery);
        await delivery.deadLetter('malformed', 'Unexpected token');
        const letters = await broker.deadLetters(10);
        assert.equal(letters.length, 1);
        assert.equal(letters[0]?.queue, queue);
        assert.equal(letters[0]?.reason, 'malformed');
        assert.equal(letters[0]?.detail, 'Unexpected token');
        assert.equal(letters[0]?.body, '{bad');
        assert.equal(typeof letters[0]?.at, 'number');
        await consumer.stop();
        await expectOnlySentinel(broker, queue, consumers);
      }));

    it('keeps a copy of a message no delivery of which is held as a dead letter; the queue is untouched', () =>
      withBroker(async ({ broker, queue, consumers }) => {
        await broker.deadLetter(queue, Buffer.from('{"lost":1}'), 'worker_lost', 'its workers kept dying');
        await broker.deadLetter(queue, Buffer.from('{"lost":2}'), 'worker_lost');
        const letters = await broker.deadLetters(10);
        assert.deepEqual(letters.map((l) => [l.queue, l.reason, l.detail, l.body, typeof l.at]), [
          [queue, 'worker_lost', undefined, '{"lost":2}', 'number'], [queue, 'worker_lost', 'its workers kept dying', '{"lost":1}', 'number'],
        ]);
        await expectOnlySentinel(broker, queue, consumers);
      }));

    it('lists dead letters newest first, up to the limit', () =>
      withBroker(async ({ broker, queue, consumers }) => {
        await publishAll(broker, queue, ['one', 'two', 'three']);
        const inbox = new Inbox();
        consumers.push(await broker.consume([queue], options(1), inbox.onDelivery));
        for (let i = 1; i <= 3; i += 1) {
          const delivery = (await inbox.waitFor(i, timeout))[i - 1] as Delivery;
          await delivery.deadLetter(`r${i}`);
        }
        const letters = await broker.deadLetters(2);
        assert.deepEqual(letters.map((letter) => [letter.reason, letter.body]), [['r3', 'three'], ['r2', 'two']]);
      }));

    it('treats a second ack as harmless', () =>
      withBroker(async ({ broker, queue, consumers }) => {
        await broker.publish(queue, Buffer.from('once'));
        const inbox = new Inbox();
        const consumer = await broker.consume([queue], options(1), inbox.onDelivery);
        const [delivery] = await inbox.waitFor(1, timeout);
        assert.ok(delivery);
        await delivery.ack();
        await delivery.ack();
        await delivery.release();
        await consumer.stop();
        await expectOnlySentinel(broker, queue, consumers);
      }));

    it('consumes many queues at once and names each delivery\'s queue', () =>
      withBroker(async ({ broker, queue, consumers }) => {
        const queues = [`${queue}-a`, `${queue}-b`, `${queue}-c`];
        await broker.declare(queues);
        for (const name of queues) await broker.publish(name, Buffer.from(name));
        const other = new Inbox();
        consumers.push(await broker.consume([`${queue}-z`], options(4), other.onDelivery));
        const inbox = new Inbox().onEach((delivery) => void delivery.ack());
        consumers.push(await broker.consume(queues, options(4), inbox.onDelivery));
        await inbox.waitFor(3, timeout);
        assert.deepEqual(inbox.items.map((delivery) => [delivery.queue, text(delivery)]).sort(), queues.map((q) => [q, q]));
        assert.equal(other.items.length, 0);
      }));

    it('shares a queue between consumers without duplicates', () =>
      withBroker(async ({ broker, queue, consumers }) => {
        const total = 40;
        const inbox = new Inbox().onEach((delivery) => void delivery.ack());
        consumers.push(await broker.consume([queue], options(2), inbox.onDelivery));
        consumers.push(await broker.consume([queue], options(2), inbox.onDelivery));
        await publishAll(broker, queue, Array.from({ length: total }, (_, i) => `m${i}`));
        await inbox.waitFor(total, timeout);
        assert.equal(new Set(inbox.bodies()).size, total);
        assert.equal(inbox.items.length, total);
      }));

    it('resolves publish only once the message is stored', () =>
      withBroker(async ({ broker, fixture, queue, consumers }) => {
        if (fixture.sibling === undefined) {
          await broker.publish(queue, Buffer.from('stored'));
          const inbox = new Inbox();
          consumers.push(await broker.consume([queue], options(1), inbox.onDelivery));
          assert.equal(text((await inbox.waitFor(1, timeout))[0] as Delivery), 'stored');
          return;
        }
        const other = await fixture.sibling();
        await other.publish(queue, Buffer.from('stored'));
        await other.close();
        const inbox = new Inbox();
        consumers.push(await broker.consume([queue], options(1), inbox.onDelivery));
        const [delivery] = await inbox.waitFor(1, timeout);
        assert.equal(text(delivery as Delivery), 'stored');
        await (delivery as Delivery).ack();
      }));

    it('refuses bad publish and consume options with ConfigError, storing nothing', () =>
      withBroker(async ({ broker, queue, consumers }) => {
        await broker.declare([queue]);
        await assert.rejects(broker.publish(queue, Buffer.from('bad'), { priority: 99 }), ConfigError);
        await assert.rejects(broker.publish(queue, Buffer.from('bad'), { delayMs: Number.NaN }), ConfigError);
        await assert.rejects(broker.consume([queue], { prefetch: 0 }, () => undefined), ConfigError);
        await broker.publish(queue, Buffer.from('good'));
        const inbox = new Inbox();
        consumers.push(await broker.consume([queue], options(5), inbox.onDelivery));
        const [delivery] = await inbox.waitFor(1, timeout);
        assert.equal(text(delivery as Delivery), 'good', 'a refused publish left nothing in the queue');
        await (delivery as Delivery).ack();
      }));

    it('purges ready and delayed messages and dead letters', () =>
      withBroker(async ({ broker, queue, consumers }) => {
        await broker.publish(queue, Buffer.from('doomed'));
        const inbox = new Inbox();
        const consumer = await broker.consume([queue], options(1), inbox.onDelivery);
        await (await inbox.waitFor(1, timeout))[0]?.deadLetter('malformed');
        await consumer.stop();
        await publishAll(broker, queue, ['x1', 'x2']);
        await broker.publish(queue, Buffer.from('x-delayed'), { delayMs: 50 });
        await broker.purge([queue]);
        assert.deepEqual(await broker.deadLetters(10), []);
        await broker.publish(queue, Buffer.from('sentinel'), { delayMs: 150 });
        const after = new Inbox().onEach((delivery) => void delivery.ack());
        consumers.push(await broker.consume([queue], options(4), after.onDelivery));
        await after.waitFor(1, timeout + 150);
        assert.deepEqual(after.bodies(), ['sentinel']);
      }));
    it('loses nothing and never hands one message to two holders under random acks, releases, dead letters and stops', () =>
      withBroker(async ({ broker, queue, consumers }) => {
        const total = 150;
        let seed = 0x2545f491;
        const random = (): number => {
          seed ^= seed << 13;
          seed ^= seed >>> 17;
          seed ^= seed << 5;
          return (seed >>> 0) / 0x1_0000_0000;
        };
        await publishAll(broker, queue, Array.from({ length: total }, (_, i) => `m${i}`));
        const holders = new Map<string, Delivery>();
        const settled = new Set<string>();
        const deadLettered = new Set<string>();
        const violations: string[] = [];
        let finish!: () => void;
        const finished = new Promise<void>((resolve) => (finish = resolve));
        const start = async (): Promise<void> => {
          const mine = new Set<string>();
          let stopped = false;
          const consumer = await broker.consume([queue], options(1 + Math.floor(random() * 4)), (delivery) => {
            const body = text(delivery);
            if (holders.has(body)) violations.push(`${body} handed out while held`);
            if (settled.has(body)) violations.push(`${body} handed out after it was settled`);
            holders.set(body, delivery);
            mine.add(body);
            setImmediate(() => {
              if (stopped) return;
              const roll = random();
              mine.delete(body);
              holders.delete(body);
              if (roll < 0.75) {
                settled.add(body);
                void delivery.ack();
              } else if (roll < 0.87) {
                void delivery.release();
              } else if (roll < 0.92) {
                settled.add(body);
                deadLettered.add(body);
                void delivery.deadLetter('random');
              } else {
                stopped = true;
                holders.delete(body);
                for (const held of mine) holders.delete(held);
                mine.clear();
                void consumer.stop().then(() => start());
              }
              if (settled.size === total) finish();
            });
          });
          consumers.push(consumer);
        };
        await Promise.all([start(), start(), start()]);
        await Promise.race([
          finished,
          new Promise((_, reject) => setTimeout(() => reject(new Error(`settled ${settled.size} of ${total}`)), 4 * timeout)),
        ]);
        assert.deepEqual(violations, []);
        const letters = await broker.deadLetters(total);
        assert.deepEqual(new Set(letters.map((letter) => letter.body)), deadLettered);
      }));
  });

  /** Publishes a sentinel and checks it is the first thing a fresh consumer of `queue` gets. */
  async function expectOnlySentinel(broker: Broker, queue: string, consumers: Consumer[]): Promise<void> {
    await broker.publish(queue, Buffer.from('sentinel'));
    const inbox = new Inbox().onEach((delivery) => void delivery.ack());
    consumers.push(await broker.consume([queue], options(4), inbox.onDelivery));
    await inbox.waitFor(1, timeout);
    assert.deepEqual(inbox.bodies(), ['sentinel']);
  }
}
