/**
 * The AMQP broker under connection loss: `rabbitmqctl close_connection` of its own connections (found by the
 * client-provided name; other clients of the shared server are never touched), a TCP proxy that resets or
 * refuses connections, and a queue deleted under a consumer. Asserts counts: nothing lost, duplicates only
 * where RELIABILITY D5 allows them, publishes retried through outages and bounded by a typed error.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { pino, type Logger } from 'pino';
import type { Delivery } from '../../src/brokers/broker.js';
import { AmqpBroker } from '../../src/brokers/amqp/amqp-broker.js';
import { BrokerUnavailableError } from '../../src/brokers/amqp/errors.js';
import type { AmqpBrokerOptions } from '../../src/brokers/amqp/options.js';
import { Inbox } from '../contracts/inbox.js';
import { findExecutable, gate, requireRabbit } from '../support/services.js';

const url = process.env.BRAID_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const server = new URL(url);
const port = Number(server.port || 5672);
const run = `braidtest_${randomBytes(4).toString('hex')}`;
let cases = 0;
const rabbitmqctl = async (...args: string[]): Promise<string> => (await promisify(execFile)('rabbitmqctl', ['-q', '-s', ...args])).stdout;

const rabbit = await requireRabbit(server.hostname, port);
const ctl = rabbit.available ? gate('rabbitmqctl', findExecutable('rabbitmqctl') !== undefined, 'not on the PATH') : rabbit;

/** Closes this prefix's connections on the server (never anyone else's); returns how many. */
async function closeOwnConnections(prefix: string): Promise<number> {
  const rows = (await rabbitmqctl('list_connections', 'pid', 'client_properties')).split('\n');
  const ours = rows.filter((row) => row.includes(`{"connection_name","braid:${prefix}:`)).map((row) => row.split('\t')[0] as string);
  for (const pid of ours) await rabbitmqctl('close_connection', pid, 'braid test: connection cut');
  return ours.length;
}

/** A TCP proxy to the server that can reset every connection and refuse new ones. */
class FaultProxy {
  private listener: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  async up(): Promise<void> {
    const listener = createServer((client) => {
      const upstream = createConnection({ host: server.hostname, port });
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('error', () => undefined);
        socket.on('close', () => (this.sockets.delete(socket), client.destroy(), upstream.destroy()));
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => listener.listen(this.port, '127.0.0.1', resolve));
    this.port = (listener.address() as { port: number }).port;
    this.listener = listener;
  }

  /** Resets every live connection (a real RST). */
  cut(): void {
    for (const socket of this.sockets) socket.resetAndDestroy();
  }

  /** Refuses new connections and resets the live ones. */
  async down(): Promise<void> {
    const listener = this.listener;
    this.listener = undefined;
    this.cut();
    if (listener) await new Promise<void>((resolve) => listener.close(() => resolve()));
  }
}

/** A broker under a fresh prefix with `queues` declared; purged (through a direct broker) and closed after. */
async function withBroker(
  options: Partial<AmqpBrokerOptions>,
  queues: string[],
  body: (broker: AmqpBroker, prefix: string) => Promise<void>,
): Promise<void> {
  const prefix = `${run}_${(cases += 1)}`;
  const broker = new AmqpBroker({ url, prefix, ...options });
  const janitor = new AmqpBroker({ url, prefix });
  try {
    await broker.connect();
    await broker.declare(queues);
    await body(broker, prefix);
  } finally {
    await broker.close();
    await janitor.connect();
    await janitor.purge(queues);
    await janitor.close();
  }
}

/** A debug logger (parsed in memory) and a promise that resolves when a line with message `msg` is logged. */
function logged(msg: string): { logger: Logger; seen: Promise<void> } {
  let resolve!: () => void;
  const seen = new Promise<void>((r) => (resolve = r));
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      if ((JSON.parse(chunk.toString()) as { msg?: unknown }).msg === msg) resolve();
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), seen };
}

/** Acks every delivery on the next turn and counts bodies and redeliveries. */
function ledger(): { inbox: Inbox; seen: Map<string, number>; duplicates: Delivery[] } {
  const seen = new Map<string, number>();
  const duplicates: Delivery[] = [];
  const inbox = new Inbox().onEach((delivery) => {
    const body = delivery.body.toString();
    if (seen.has(body)) duplicates.push(delivery);
    seen.set(body, (seen.get(body) ?? 0) + 1);
    setImmediate(() => void delivery.ack());
  });
  return { inbox, seen, duplicates };
}

describe('AmqpBroker under connection loss', { skip: ctl.skip }, () => {
  after(async () => {
    const queues = (await rabbitmqctl('list_queues', 'name')).split('\n').filter((name) => name.startsWith(run));
    const exchanges = (await rabbitmqctl('list_exchanges', 'name')).split('\n').filter((name) => name.startsWith(run));
    for (const name of queues) await rabbitmqctl('delete_queue', name);
    assert.deepEqual({ queues, exchanges }, { queues: [], exchanges: [] }, 'queues or exchanges leaked');
  });

  it('loses nothing across 3 close_connection cuts of its own connections', (t) =>
    withBroker({}, ['work'], async (broker, prefix) => {
      const total = 200;
      const prefetch = 10;
      const { inbox, seen, duplicates } = ledger();
      const consumer = await broker.consume(['work'], { prefetch }, inbox.onDelivery);
      let published = 0;
      const producer = (async () => {
        for (let i = 0; i < total; i++) {
          await broker.publish('work', Buffer.from(`m${i}`));
          published += 1;
          if (i % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
        }
      })();
      let cuts = 0;
      for (let round = 0; round < 3; round++) {
        await inbox.waitFor(Math.min(total, (round + 1) * 40), 20_000);
        assert.equal(await closeOwnConnections(prefix), 2, 'one publishing and one consuming connection');
        cuts += 1;
      }
      await producer;
      await inbox.waitFor(total + duplicates.length, 30_000);
      for (let i = 0; i < 300 && seen.size < total; i++) await new Promise((resolve) => setTimeout(resolve, 100));
      await consumer.stop();
      assert.equal(published, total, 'every publish resolved');
      assert.equal(seen.size, total, 'every message delivered');
      const resent = duplicates.filter((delivery) => !delivery.redelivered).length;
      t.diagnostic(`${total} messages, ${cuts} cuts: ${duplicates.length - resent} redelivered duplicates, ${resent} re-sent publishes`);
      assert.ok(duplicates.length - resent <= prefetch * cuts, `redeliveries ${duplicates.length - resent} ≤ prefetch × cuts`);
      assert.ok(resent <= cuts * 10, `publishes re-sent after a lost confirm: ${resent}`);
      assert.equal(await closeOwnConnections(prefix), 2, 'both connections came back by themselves');
    }));

  it('retries a publish through an outage, then bounds it with BrokerUnavailableError', async () => {
    const proxy = new FaultProxy();
    await proxy.up();
    const through = `amqp://${server.username || 'guest'}:${server.password || 'guest'}@127.0.0.1:${proxy.port}`;
    try {
      await withBroker({ url: through, publishTimeoutMs: 1_500 }, ['work'], async (broker) => {
        const { inbox, seen } = ledger();
        await broker.consume(['work'], { prefetch: 5 }, inbox.onDelivery);
        await proxy.down();
        const pending = broker.publish('work', Buffer.from('during-outage'));
        await new Promise((resolve) => setTimeout(resolve, 300));
        await proxy.up();
        await pending;
        const started = Date.now();
        await proxy.down();
        await assert.rejects(broker.publish('work', Buffer.from('too-late')), BrokerUnavailableError);
        assert.ok(Date.now() - started >= 1_400, 'rejected only after publishTimeoutMs');
        await proxy.up();
        for (let attempt = 1; ; attempt++) {
          const sent = await broker.publish('work', Buffer.from('after')).then(() => true, (error: unknown) => {
            if (!(error instanceof BrokerUnavailableError) || attempt === 5) throw error;
            return false;
          });
          if (sent) break;
        }
        // 'during-outage' may come twice: its ack can be lost in the second outage (redelivered, D5).
        for (let count = 1; !seen.has('after'); count++) await inbox.waitFor(count, 15_000);
        assert.ok(seen.has('during-outage'), `got ${[...seen.keys()].join(', ')}`);
        assert.ok(!seen.has('too-late'), 'a rejected publish was not sent');
      });
    } finally {
      await proxy.down();
    }
  });

  it('redelivers a delivery whose connection was reset; acking the stale one is a no-op', async () => {
    const proxy = new FaultProxy();
    await proxy.up();
    const through = `amqp://${server.username || 'guest'}:${server.password || 'guest'}@127.0.0.1:${proxy.port}`;
    try {
      await withBroker({ url: through }, ['work'], async (broker) => {
        const inbox = new Inbox();
        await broker.consume(['work'], { prefetch: 1 }, inbox.onDelivery);
        await broker.publish('work', Buffer.from('held'));
        const [first] = await inbox.waitFor(1);
        assert.equal(first?.redelivered, false);
        proxy.cut();
        await new Promise((resolve) => setTimeout(resolve, 200));
        await first?.ack();
        const [, again] = await inbox.waitFor(2, 15_000);
        assert.equal(again?.body.toString(), 'held');
        assert.equal(again?.redelivered, true);
        await again?.ack();
      });
    } finally {
      await proxy.down();
    }
  });

  it('re-consumes by itself after its queue was deleted and declared again', () => {
    const cancelled = logged('amqp consumer cancelled by the server (queue deleted?); re-attaching');
    return withBroker({ logger: cancelled.logger }, ['work'], async (broker, prefix) => {
      const { inbox, seen } = ledger();
      await broker.consume(['work'], { prefetch: 2 }, inbox.onDelivery);
      await rabbitmqctl('delete_queue', `${prefix}.work`);
      // Declare again only once the consumer heard of the deletion: RabbitMQ 3.10 under load, given a queue of
      // the same name before the channel processed the deletion, sends no basic.cancel and re-registers the old
      // consumer on the new queue, where it never delivers (a server race; see docs/brokers.md).
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([cancelled.seen, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('no basic.cancel within 30 s of the deletion')), 30_000)))]);
      clearTimeout(timer);
      await broker.declare(['work']);
      await broker.publish('work', Buffer.from('back'));
      await inbox.waitFor(1, 15_000);
      assert.ok(seen.has('back'));
    });
  });
});
