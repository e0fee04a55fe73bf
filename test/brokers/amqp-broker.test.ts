/**
 * The Broker contract on RabbitMQ (quorum and classic queues), plus what only the AMQP broker promises:
 * confirms, declared arguments, delivery limits, plugin-free delays, config errors. Uses the shared server on
 * 127.0.0.1:5672 (or BRAID_AMQP_URL) under a random prefix per case; every queue and exchange is deleted and
 * a final check proves none leaked. SKIPPED loudly without a server, a failure with BRAID_REQUIRE_SERVICES=1.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { connect } from 'amqplib';
import type { Broker, ConsumeOptions, Consumer, DeadLetter, Delivery, PublishOptions } from '../../src/brokers/broker.js';
import { AmqpBroker } from '../../src/brokers/amqp/amqp-broker.js';
import type { AmqpBrokerOptions } from '../../src/brokers/amqp/options.js';
import { ConfigError } from '../../src/core/errors.js';
import { brokerContract } from '../contracts/broker.contract.js';
import { Inbox } from '../contracts/inbox.js';
import { requireRabbit } from '../support/services.js';

const url = process.env.BRAID_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const run = `braidtest_${randomBytes(4).toString('hex')}`;
let cases = 0;
const freshPrefix = (): string => `${run}_${(cases += 1)}`;
const rabbitmqctl = async (...args: string[]): Promise<string> => (await promisify(execFile)('rabbitmqctl', ['-q', '-s', ...args])).stdout;

/**
 * The contract publishes to queues it never declared; braid's AMQP broker refuses that on purpose (declare at
 * start, RELIABILITY D6). This wrapper declares each queue the first time the contract names it and records it
 * for the cleanup.
 */
class DeclaringBroker implements Broker {
  readonly kind = 'amqp';
  private readonly declared = new Set<string>();
  constructor(readonly inner: AmqpBroker, private readonly seen: Set<string>) {}
  connect(): Promise<void> {
    return this.inner.connect();
  }
  async declare(queues: readonly string[]): Promise<void> {
    for (const queue of queues) this.seen.add(queue), this.declared.add(queue);
    await this.inner.declare(queues);
  }
  async publish(queue: string, body: Buffer, options?: PublishOptions): Promise<void> {
    await this.ensure([queue]);
    await this.inner.publish(queue, body, options);
  }
  async consume(queues: readonly string[], options: ConsumeOptions, onDelivery: (delivery: Delivery) => void): Promise<Consumer> {
    await this.ensure(queues);
    return this.inner.consume(queues, options, onDelivery);
  }
  deadLetters(limit?: number): Promise<DeadLetter[]> {
    return this.inner.deadLetters(limit);
  }
  async deadLetter(queue: string, body: Buffer, reason: string, detail?: string): Promise<void> {
    await this.ensure([queue]);
    await this.inner.deadLetter(queue, body, reason, detail);
  }
  async purge(queues: readonly string[]): Promise<void> {
    await this.inner.purge([...new Set([...queues, ...this.seen])]);
    this.declared.clear();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  private async ensure(queues: readonly string[]): Promise<void> {
    const missing = queues.filter((queue) => !this.declared.has(queue));
    if (missing.length > 0) await this.declare(missing);
  }
}

function fixture(queueType: 'quorum' | 'classic') {
  return async () => {
    const prefix = freshPrefix();
    const seen = new Set<string>();
    const open = async (): Promise<DeclaringBroker> => {
      const broker = new DeclaringBroker(new AmqpBroker({ url, prefix, queueType }), seen);
      await broker.connect();
      return broker;
    };
    const broker = await open();
    return {
      broker,
      sibling: open,
      cleanup: async () => {
        await broker.purge([]);
        await broker.close();
      },
    };
  };
}

/** A connected broker under a fresh prefix, purged of `queues` and closed after `body`. */
async function withBroker(
  options: Partial<AmqpBrokerOptions>,
  queues: string[],
  body: (broker: AmqpBroker, prefix: string) => Promise<void>,
): Promise<void> {
  const prefix = freshPrefix();
  const broker = new AmqpBroker({ url, prefix, ...options });
  await broker.connect();
  try {
    await broker.declare(queues);
    await body(broker, prefix);
  } finally {
    await broker.purge(queues);
    await broker.close();
  }
}

const server = new URL(url);
const rabbit = await requireRabbit(server.hostname, Number(server.port || 5672));
const available = rabbit.available;

if (available) {
  // leaseMs: how long a stopped consumer's unsettled deliveries stay ackable before they go back.
  brokerContract('amqp (quorum)', fixture('quorum'), { leaseMs: 1_000 });
  brokerContract('amqp (classic)', fixture('classic'), { priorities: true, leaseMs: 1_000 });
}

describe('AmqpBroker', { skip: rabbit.skip }, () => {
  after(async () => {
    const queues = (await rabbitmqctl('list_queues', 'name')).split('\n').filter((name) => name.startsWith(run));
    const exchanges = (await rabbitmqctl('list_exchanges', 'name')).split('\n').filter((name) => name.startsWith(run));
    for (const name of queues) await rabbitmqctl('delete_queue', name);
    assert.deepEqual({ queues, exchanges }, { queues: [], exchanges: [] }, 'queues or exchanges leaked');
  });

  it('resolves publish once stored: another connection finds the message', () =>
    withBroker({}, ['q'], async (broker, prefix) => {
      await broker.publish('q', Buffer.from('stored'));
      const other = await connect(url);
      try {
        const channel = await other.createChannel();
        const message = await channel.get(`${prefix}.q`, { noAck: true });
        assert.ok(message, 'the message is in the queue as soon as publish resolved');
        assert.equal(message.content.toString(), 'stored');
        assert.equal(message.properties.deliveryMode, 2, 'persistent');
      } finally {
        await other.close();
      }
    }));

  it('declares quorum queues with a delivery limit and a dead-letter exchange', () =>
    withBroker({ deliveryLimit: 7 }, ['work'], async (_broker, prefix) => {
      const rows = (await rabbitmqctl('list_queues', 'name', 'type', 'durable', 'arguments')).split('\n').filter((row) => row.startsWith(`${prefix}.`));
      const row = (name: string): string => rows.find((line) => line.startsWith(`${prefix}.${name}\t`)) ?? '';
      assert.match(row('work'), /\tquorum\ttrue\t/);
      assert.match(row('work'), /\{"x-delivery-limit",7\}/);
      assert.match(row('work'), new RegExp(`\\{"x-dead-letter-exchange","${prefix}\\.dlx"\\}`));
      assert.match(row('dead'), /\tclassic\ttrue\t/);
      assert.match(row('delay.0'), /\{"x-message-ttl",1\}/);
      assert.match(row('delay.30'), /\{"x-message-ttl",1073741824\}/);
      assert.match(row('delay.30'), new RegExp(`\\{"x-dead-letter-exchange","${prefix}\\.delay\\.29"\\}`));
      assert.match(row('delay.30'), /\{"x-delivery-limit",7\}/);
      assert.equal(rows.length, 2 + 31);
    }));

  it('declares classic queues with priorities and refuses a redeclare with other arguments', () =>
    withBroker({ queueType: 'classic' }, ['work'], async (broker, prefix) => {
      const rows = await rabbitmqctl('list_queues', 'name', 'type', 'arguments');
      const row = rows.split('\n').find((line) => line.startsWith(`${prefix}.work\t`)) ?? '';
      assert.match(row, /\tclassic\t/);
      assert.match(row, /\{"x-max-priority",9\}/);
      assert.equal(broker.capabilities.priority, 'levels');
      const quorum = new AmqpBroker({ url, prefix, queueType: 'quorum' });
      await quorum.connect();
      await assert.rejects(quorum.declare(['work']), (error: unknown) => error instanceof ConfigError && /other arguments/.test(String(error)));
      await quorum.close();
    }));

  it('takes queueType and deliveryLimit from the URL (an app configured by URL alone); explicit options win', async () => {
    const prefix = freshPrefix();
    const viaUrl = new AmqpBroker({ url: `${url}?queueType=classic&deliveryLimit=9`, prefix });
    const explicit = new AmqpBroker({ url: `${url}?deliveryLimit=9`, prefix: `${prefix}_q`, deliveryLimit: 4 });
    try {
      await viaUrl.connect();
      await explicit.connect();
      await viaUrl.declare(['work']);
      await explicit.declare(['work']);
      const rows = (await rabbitmqctl('list_queues', 'name', 'type', 'arguments')).split('\n');
      assert.match(rows.find((line) => line.startsWith(`${prefix}.work\t`)) ?? '', /\tclassic\t.*"x-max-priority",9/);
      assert.equal(viaUrl.capabilities.priority, 'levels');
      assert.match(rows.find((line) => line.startsWith(`${prefix}_q.work\t`)) ?? '', /\tquorum\t.*"x-delivery-limit",4/);
    } finally {
      await viaUrl.purge(['work']).catch(() => undefined);
      await explicit.purge(['work']).catch(() => undefined);
      await Promise.all([viaUrl.close(), explicit.close()]);
    }
  });

  it('reports that quorum queues on RabbitMQ 3.x ignore priorities', () =>
    withBroker({}, [], async (broker) => {
      const version = (await rabbitmqctl('version')).trim();
      assert.equal(broker.capabilities.priority, version.startsWith('3.') ? 'none' : 'two-levels');
    }));

  it('dead-letters a message past its delivery limit with reason delivery_limit', () =>
    withBroker({ deliveryLimit: 2 }, ['work'], async (broker) => {
      await broker.publish('work', Buffer.from('poison'));
      const inbox = new Inbox().onEach((delivery) => void delivery.release());
      const consumer = await broker.consume(['work'], { prefetch: 1 }, inbox.onDelivery);
      await inbox.waitFor(3);
      let letters: DeadLetter[] = [];
      for (let i = 0; i < 50 && letters.length === 0; i++) {
        letters = await broker.deadLetters();
        if (letters.length === 0) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await consumer.stop();
      assert.equal(inbox.items.length, 3, 'delivered 1 + deliveryLimit times');
      assert.equal(letters.length, 1);
      assert.deepEqual({ ...letters[0], at: 0 }, { queue: 'work', reason: 'delivery_limit', body: 'poison', at: 0 });
      assert.deepEqual(await broker.deadLetters(), letters, 'reading dead letters does not remove them');
    }));

  it('never delivers a delayed message early', () =>
    withBroker({}, ['work'], async (broker) => {
      const delays = [1, 2, 7, 64, 100, 333, 513, 1000, 1500];
      const sent = new Map<string, number>();
      const arrivals = new Map<string, number>();
      const inbox = new Inbox().onEach((delivery) => {
        const body = delivery.body.toString();
        arrivals.set(body, Date.now() - (sent.get(body) ?? Number.NaN));
        void delivery.ack();
      });
      const consumer = await broker.consume(['work'], { prefetch: 10 }, inbox.onDelivery);
      await Promise.all(
        delays.map((delay) => {
          sent.set(String(delay), Date.now());
          return broker.publish('work', Buffer.from(String(delay)), { delayMs: delay });
        }),
      );
      await inbox.waitFor(delays.length, 10_000);
      await consumer.stop();
      for (const delay of delays) {
        const waited = arrivals.get(String(delay)) ?? -1;
        assert.ok(waited >= delay, `delay ${delay} ms delivered after ${waited} ms`);
        assert.ok(waited < delay + 2_000, `delay ${delay} ms delivered after ${waited} ms`);
      }
    }));

  it('refuses undeclared queues, bad options and bad URLs with ConfigError', async () => {
    await withBroker({}, [], async (broker) => {
      await assert.rejects(broker.publish('nowhere', Buffer.from('x')), ConfigError);
      await assert.rejects(broker.publish('nowhere', Buffer.from('x'), { delayMs: 10 }), ConfigError);
      await assert.rejects(broker.consume(['nowhere'], { prefetch: 1 }, () => undefined), ConfigError);
      await assert.rejects(broker.publish('q', Buffer.from('x'), { priority: 10 }), ConfigError);
      await assert.rejects(broker.publish('q', Buffer.from('x'), { delayMs: Number.NaN }), ConfigError);
      await assert.rejects(broker.publish('q', Buffer.from('x'), { delayMs: 2 ** 31 }), ConfigError);
      await assert.rejects(broker.declare(['dead']), ConfigError);
      await assert.rejects(broker.consume(['q'], { prefetch: 0 }, () => undefined), ConfigError);
    });
    for (const bad of ['http://127.0.0.1', 'not a url', 'amqp://127.0.0.1?heartbeat=0', 'amqp://127.0.0.1?queue_type=classic', 'amqp://127.0.0.1?queueType=stream', 'amqp://127.0.0.1?deliveryLimit=0']) {
      assert.throws(() => new AmqpBroker({ url: bad, prefix: 'p' }), ConfigError, bad);
    }
    assert.throws(() => new AmqpBroker({ url, prefix: 'amq.x' }), ConfigError);
    assert.throws(() => new AmqpBroker({ url, prefix: 'p', tls: { rejectUnauthorized: false } }), ConfigError);
    await assert.rejects(new AmqpBroker({ url: 'amqp://127.0.0.1:1', prefix: 'p' }).connect(), ConfigError);
    await assert.rejects(new AmqpBroker({ url: url.replace(/\/\/[^@]*@/, '//guest:wrong@'), prefix: 'p' }).connect(), ConfigError);
  });
});
