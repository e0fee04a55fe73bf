/**
 * The Redis broker's hot commands written as prebuilt RESP bytes (scripts.ts, ack-batcher.ts, wire.ts): Buffer
 * arguments are written byte for byte (core/resp-command.ts), binary entries come back unchanged, and the
 * scripts keep working after the server lost them (`SCRIPT FLUSH`, as after a restart): NOSCRIPT loads the
 * script and re-sends the same bytes, for publishes, plain takes and the takes behind a block.
 */
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { after, before, describe, it } from 'node:test';
import { respWire } from '../../src/core/resp-command.js';
import type { RedisBroker } from '../../src/brokers/redis/redis-broker.js';
import { queueKeys } from '../../src/brokers/redis/keys.js';
import { Inbox } from '../contracts/inbox.js';
import { RedisServer } from '../support/redis-server.js';
import { requireRedis } from '../support/services.js';
import { redisBroker } from './redis-fixture.js';

const redis = await requireRedis();

describe('respWire with Buffer arguments', () => {
  it('writes them as they are, next to strings (ASCII or not) and numbers', () => {
    const binary = Buffer.from([0, 13, 10, 36, 42, 0xff, 0xfe, 0x80]);
    for (const text of ['ascii', 'é']) {
      const args = ['EVALSHA', text, 2, binary, Buffer.alloc(0), 'tail'] as const;
      const expected = Buffer.concat([
        Buffer.from(`*6\r\n$7\r\nEVALSHA\r\n$${Buffer.byteLength(text)}\r\n${text}\r\n$1\r\n2\r\n$8\r\n`),
        binary,
        Buffer.from('\r\n$0\r\n\r\n$4\r\ntail\r\n'),
      ]);
      assert.ok(respWire(args.slice(0, 2), args.slice(2, 4), args.slice(4)).equals(expected), text);
    }
  });
});

describe('redis broker prebuilt commands', { skip: redis.skip }, () => {
  let server: RedisServer;
  let admin: Redis;
  before(async () => {
    server = await RedisServer.start({ appendonly: false });
    admin = new Redis(server.url);
  });
  after(async () => {
    admin?.disconnect();
    await server?.stop();
  });

  /** Publishes `bodies` (one tick), consumes them all with `consumer`'s inbox, acking each. */
  async function roundTrip(broker: RedisBroker, inbox: Inbox, queue: string, bodies: Buffer[]): Promise<void> {
    const before = inbox.items.length;
    await Promise.all(bodies.map((body) => broker.publish(queue, body)));
    await inbox.waitFor(before + bodies.length, 10_000);
  }

  it('delivers binary bodies unchanged and survives SCRIPT FLUSH on every path', async () => {
    const prefix = 'prebuilt';
    const broker = await redisBroker(server, { prefix, blockMs: 200 });
    const acks: Array<Promise<void>> = [];
    const inbox = new Inbox().onEach((delivery) => void acks.push(delivery.ack()));
    const consumer = await broker.consume(['bin', 'other'], { prefetch: 10 }, inbox.onDelivery);
    try {
      const bodies = (n: number, tag: number) => Array.from({ length: n }, (_, i) => Buffer.from([tag, i, 0, 13, 10, 0xff, 0x80, 0xc3]));
      await roundTrip(broker, inbox, 'bin', bodies(5, 1));
      // Idle consumer blocked: its takes behind the block, the publish and the acks all meet a server without scripts.
      await admin.script('FLUSH');
      await roundTrip(broker, inbox, 'bin', bodies(3, 2));
      await admin.script('FLUSH');
      // Twenty at once with prefetch 10: plain takes on the command connection after the first ones.
      await roundTrip(broker, inbox, 'bin', bodies(20, 3));
      const got = inbox.items.map((delivery) => Buffer.from(delivery.body));
      const sent = [...bodies(5, 1), ...bodies(3, 2), ...bodies(20, 3)];
      assert.deepEqual(got.map((b) => b.toString('hex')).sort(), sent.map((b) => b.toString('hex')).sort());
      await Promise.all(acks);
      await consumer.stop(); // sends the acks that still linger (ack-batcher.ts)
      assert.equal(await admin.zcard(queueKeys(prefix, 'bin').inflight), 0);
    } finally {
      await consumer.stop();
      await broker.close();
    }
  });
});
