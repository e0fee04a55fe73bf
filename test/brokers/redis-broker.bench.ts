/**
 * Throughput of the real RedisBroker (publish, consume + ack, both at once) on a private redis-server, with
 * BullMQ on the same server as the reference (a no-op job, `removeOnComplete`). Not a test; run by hand:
 *
 *   node --import tsx test/brokers/redis-broker.bench.ts [messages] [rounds]
 *
 * Publisher and consumer are separate broker instances (separate connections) in this one process.
 */
import { randomUUID } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import type { Broker } from '../../src/brokers/broker.js';
import { RedisBroker } from '../../src/brokers/redis/redis-broker.js';
import { RedisServer } from '../support/redis-server.js';

const BODY = Buffer.from(JSON.stringify({ v: 1, workflowId: 'wf_0123456789abcdef0123', nodeId: 'n12', attempt: 1, task: 'images.resize' }));
const WINDOW = 1_000;

async function publishAll(send: () => Promise<unknown>, total: number): Promise<void> {
  let sent = 0;
  await Promise.all(
    Array.from({ length: WINDOW }, async () => {
      while (sent < total) {
        sent += 1;
        await send();
      }
    }),
  );
}

async function consumeAll(broker: Broker, queue: string, total: number, prefetch: number): Promise<void> {
  let acked = 0;
  await new Promise<void>((resolve) => {
    void broker.consume([queue], { prefetch }, (delivery) => {
      void delivery.ack().then(() => {
        acked += 1;
        if (acked === total) resolve();
      });
    });
  });
}

const seconds = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e9;

async function braid(url: string, total: number, prefetch: number): Promise<number[]> {
  const prefix = `bench${randomUUID().slice(0, 6)}`;
  const open = async (): Promise<RedisBroker> => {
    const broker = new RedisBroker({ url, prefix });
    await broker.connect();
    return broker;
  };
  const [publisher, consumer] = [await open(), await open()];
  let start = process.hrtime.bigint();
  await publishAll(() => publisher.publish('a', BODY), total);
  const publishRate = total / seconds(start);
  start = process.hrtime.bigint();
  await consumeAll(consumer, 'a', total, prefetch);
  const consumeRate = total / seconds(start);
  await consumer.close();
  const second = await open();
  start = process.hrtime.bigint();
  await Promise.all([publishAll(() => publisher.publish('b', BODY), total), consumeAll(second, 'b', total, prefetch)]);
  const bothRate = total / seconds(start);
  await Promise.all([publisher.close(), second.close()]);
  return [publishRate, consumeRate, bothRate];
}

async function bullmq(port: number, total: number, concurrency: number): Promise<number> {
  const connection = { host: '127.0.0.1', port };
  const name = `bench${randomUUID().slice(0, 6)}`;
  const queue = new Queue(name, { connection });
  let done = 0;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const start = process.hrtime.bigint();
  const worker = new Worker(
    name,
    async () => {
      done += 1;
      if (done === total) finish();
    },
    { connection, concurrency, removeOnComplete: { count: 0 } },
  );
  await publishAll(() => queue.add('t', { v: 1 }, { removeOnComplete: true }), total);
  await finished;
  const rate = total / seconds(start);
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  return rate;
}

const total = Number(process.argv[2] ?? 100_000);
const rounds = Number(process.argv[3] ?? 3);
const prefetch = 500;
const server = await RedisServer.start();
try {
  const best = [0, 0, 0, 0];
  for (let round = 0; round < rounds; round += 1) {
    const figures = [...(await braid(server.url, total, prefetch)), await bullmq(server.port, Math.min(total, 50_000), prefetch)];
    figures.forEach((value, i) => (best[i] = Math.max(best[i] as number, value)));
    process.stdout.write(`round ${round + 1}: ${figures.map((f) => Math.round(f)).join(' / ')}\n`);
  }
  const [publish, consume, both, bull] = best.map(Math.round);
  process.stdout.write(
    `messages ${total}, prefetch ${prefetch}, publish window ${WINDOW}, AOF everysec, best of ${rounds}\n` +
      `RedisBroker: publish ${publish}/s, consume+ack ${consume}/s, end to end ${both}/s\n` +
      `BullMQ (same server, concurrency ${prefetch}, no-op job): end to end ${bull}/s\n`,
  );
} finally {
  await server.stop();
}
