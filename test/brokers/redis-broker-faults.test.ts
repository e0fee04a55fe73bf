/**
 * Redis broker under faults (RELIABILITY D1, D3, D4): a SIGKILLed consumer's deliveries come back after its
 * lease, `CLIENT KILL TYPE normal` and a redis-server `kill -9` + restart do not wedge consumption, and a
 * consumer behind a half-open link recovers within its block timeout plus the socket timeout.
 */
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { after, before, describe, it } from 'node:test';
import { Inbox } from '../contracts/inbox.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { RedisServer } from '../support/redis-server.js';
import { requireRedis } from '../support/services.js';
import { redisBroker } from './redis-fixture.js';

const redis = await requireRedis();
const childScript = fileURLToPath(new URL('./redis-consumer-child.ts', import.meta.url));

/** Resolves with the IPC messages of a child until `count` of them satisfy `accept`. */
function childMessages(child: ReturnType<typeof fork>, accept: (m: Record<string, unknown>) => boolean, count: number): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    const got: Record<string, unknown>[] = [];
    const timer = setTimeout(() => reject(new Error(`child sent ${got.length} of ${count} messages`)), 20_000);
    child.on('message', (message) => {
      const m = message as Record<string, unknown>;
      if (!accept(m)) return;
      got.push(m);
      if (got.length === count) {
        clearTimeout(timer);
        resolve(got);
      }
    });
    child.once('exit', (code) => reject(new Error(`child exited with ${code} after ${got.length} messages`)));
  });
}

describe('redis broker under faults', { skip: redis.skip }, () => {
  let server: RedisServer;
  before(async () => {
    server = await RedisServer.start();
  });
  after(async () => {
    await server?.stop();
  });

  it('redelivers what a SIGKILLed consumer process held, only after its lease, to another consumer', async () => {
    const leaseMs = 1_000;
    const prefix = `t${randomUUID().slice(0, 8)}`;
    const broker = await redisBroker(server, { prefix });
    const bodies = ['k1', 'k2', 'k3'];
    for (const body of bodies) await broker.publish('work', Buffer.from(body));
    const child = fork(childScript, [server.url, prefix, 'work', String(leaseMs)], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
    const received = await childMessages(child, (m) => typeof m.body === 'string', 3);
    const heldSince = Date.now();
    assert.deepEqual(received.map((m) => m.body).sort(), bodies);
    const inbox = new Inbox().onEach((delivery) => void delivery.ack());
    const consumer = await broker.consume(['work'], { prefetch: 10, leaseMs }, inbox.onDelivery);
    // While the child lives it renews its leases: nothing may move for a few lease periods.
    await new Promise((resolve) => setTimeout(resolve, 2.5 * leaseMs));
    assert.equal(inbox.items.length, 0, 'a live consumer lost its deliveries');
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    const killedAt = Date.now();
    await inbox.waitFor(3, leaseMs + 5_000);
    assert.ok(Date.now() - killedAt >= leaseMs * 0.5, 'redelivered long before the lease could lapse');
    assert.ok(Date.now() - heldSince >= leaseMs);
    assert.deepEqual(inbox.bodies().sort(), bodies);
    assert.ok(inbox.items.every((delivery) => delivery.redelivered));
    await consumer.stop();
    await broker.close();
  });

  it('keeps consuming across CLIENT KILL TYPE normal, losing nothing', async () => {
    const broker = await redisBroker(server);
    const admin = new Redis(server.url).on('error', () => undefined);
    try {
      const inbox = new Inbox().onEach((delivery) => void delivery.ack().catch(() => undefined));
      const consumer = await broker.consume(['q'], { prefetch: 20, leaseMs: 2_000 }, inbox.onDelivery);
      const published: string[] = [];
      for (let round = 0; round < 5; round += 1) {
        await admin.client('KILL', 'TYPE', 'normal');
        for (let i = 0; i < 40; i += 1) {
          const body = `r${round}-${i}`;
          await broker.publish('q', Buffer.from(body));
          published.push(body);
        }
      }
      const missing = (): string[] => {
        const seen = new Set(inbox.bodies());
        return published.filter((body) => !seen.has(body));
      };
      await inbox.waitUntil(() => missing().length === 0, 10_000, 'every published body');
      await consumer.stop();
    } finally {
      await broker.close();
      admin.disconnect();
    }
  });

  it('keeps stored messages and resumes consuming across redis-server kill -9 and restart', async () => {
    const own = await RedisServer.start({ appendonly: true });
    try {
      const broker = await redisBroker(own);
      for (let i = 0; i < 5; i += 1) await broker.publish('q', Buffer.from(`before-${i}`));
      await broker.publish('q', Buffer.from('delayed'), { delayMs: 1_500 });
      await own.restart();
      const inbox = new Inbox().onEach((delivery) => void delivery.ack().catch(() => undefined));
      const consumer = await broker.consume(['q'], { prefetch: 10, leaseMs: 2_000 }, inbox.onDelivery);
      await inbox.waitFor(5, 10_000);
      await own.restart();
      await broker.publish('q', Buffer.from('after'));
      await inbox.waitFor(7, 15_000);
      assert.deepEqual(new Set(inbox.bodies()), new Set(['before-0', 'before-1', 'before-2', 'before-3', 'before-4', 'delayed', 'after']));
      await consumer.stop();
      await broker.close();
    } finally {
      await own.stop();
    }
  });

  it('recovers a consumer whose link went half-open while redis-server restarted', async () => {
    const own = await RedisServer.start({ appendonly: true });
    const proxy = await FaultProxy.start({ port: own.port });
    try {
      const blockMs = 1_000;
      const socketTimeoutMs = 2_000;
      const prefix = `t${randomUUID().slice(0, 8)}`;
      const behind = await redisBroker(own, { prefix, url: proxy.url('redis'), blockMs, socketTimeoutMs });
      const direct = await redisBroker(own, { prefix });
      const inbox = new Inbox().onEach((delivery) => void delivery.ack().catch(() => undefined));
      const consumer = await behind.consume(['q'], { prefetch: 5, leaseMs: 2_000 }, inbox.onDelivery);
      await direct.publish('q', Buffer.from('warm-up'));
      await inbox.waitFor(1, 5_000);
      proxy.partition();
      await own.restart();
      proxy.heal();
      const healedAt = Date.now();
      await direct.publish('q', Buffer.from('after-heal'));
      // The warm-up's ack may have been cut by the partition: it may come back first (at least once).
      await inbox.waitUntil(() => inbox.bodies().includes('after-heal'), blockMs + socketTimeoutMs + 5_000, 'after-heal');
      assert.ok(Date.now() - healedAt < blockMs + socketTimeoutMs + 4_000);
      await consumer.stop();
      await Promise.all([behind.close(), direct.close()]);
      // Let the proxied pairs finish closing first: FaultProxy.close() resets sockets, and resetting one that is
      // already shutting down leaks its handle and hangs process exit (Node 20).
      for (let i = 0; i < 100 && proxy.connections > 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      await proxy.close();
      await own.stop();
    }
  });
});
