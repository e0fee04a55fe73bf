/**
 * "A user can switch an app from redis:// to amqp:// by changing one URL and nothing else" (issue 4): the same
 * app module (test/brokers/switch/app.ts: a chord into a retried step, a countdown, an errback on another
 * queue, a ctx.replace fan-out, routes) runs in a child process twice, with the same environment except
 * BRAID_BROKER_URL: redis:// (the store's private redis-server) and then amqp:// (the shared RabbitMQ). The
 * store URL, prefix and code are the same; what the user sees (results, failures, node states, attempts,
 * queues, errback reports) must be the same. And a cutover loses nothing: workflows whose messages were left
 * in the Redis broker finish on amqp:// workers, their nodes re-published by the sweeper from the store.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { chain, chord, createApp } from '../../src/index.js';
import { AMQP_URL, AmqpJanitor, amqpAddress } from '../support/amqp.js';
import { RedisServer } from '../support/redis-server.js';
import { requireRabbit, requireRedis } from '../support/services.js';

const RUN = fileURLToPath(new URL('./switch/run.ts', import.meta.url));
const redis = await requireRedis();
const rabbit = await requireRabbit(amqpAddress().host, amqpAddress().port);

describe('switching an app from redis:// to amqp://', { skip: redis.skip || rabbit.skip }, () => {
  const janitor = new AmqpJanitor(`braidtest_${randomBytes(4).toString('hex')}`);
  const prefix = janitor.prefix('switch');
  let server: RedisServer;

  before(async () => {
    server = await RedisServer.start();
  });
  after(async () => {
    await janitor.remove(prefix, ['default', 'mail']).catch(() => undefined);
    await janitor.close();
    await server?.stop();
  });

  /** Runs the app module with this broker URL; everything else in its environment is the same every time. */
  async function runApp(brokerUrl: string): Promise<Record<string, unknown>> {
    const env = { ...process.env, BRAID_STORE_URL: `${server.url}/0`, BRAID_PREFIX: prefix, BRAID_LOG_LEVEL: 'warn', BRAID_BROKER_URL: brokerUrl };
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', RUN], { env, timeout: 120_000 });
    return JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>;
  }

  it('a cutover loses nothing: workflows left on redis:// finish on amqp:// workers (the sweeper re-publishes them)', { timeout: 120_000 }, async () => {
    const store = `${server.url}/1`;
    const build = (broker: string) => {
      const app = createApp({ broker, store, prefix: `${prefix}_cut`, logger: pino({ level: 'silent' }) });
      const double = app.task('double', (_ctx, x: number) => x * 2);
      const sum = app.task('sum', (_ctx, xs: number[]) => xs.reduce((a, b) => a + b, 0));
      return { app, double, sum };
    };
    const old = build(`${server.url}/1`);
    await old.app.start(chain(old.double.s(1), old.double.s(), old.double.s()), { workflowId: 'cut-chain' });
    await old.app.start(chord([1, 2, 3].map((x) => old.double.s(x)), old.sum.s()), { workflowId: 'cut-chord' });
    await old.app.close(); // no worker ever ran on redis://: every message is still in the Redis broker
    const next = build(AMQP_URL);
    try {
      await next.app.worker({ republishAfterMs: 500, sweepIntervalMs: 100 }).start();
      assert.equal(await next.app.workflow<number>('cut-chain').result({ timeoutMs: 60_000 }), 8);
      assert.equal(await next.app.workflow<number>('cut-chord').result({ timeoutMs: 60_000 }), 12);
    } finally {
      await next.app.close();
      await janitor.remove(`${prefix}_cut`, ['default']).catch(() => undefined);
    }
  });

  it('gives the same results, failures, states and errback reports on both brokers', { timeout: 300_000 }, async () => {
    const onRedis = await runApp(`${server.url}/0`);
    // Same workflow ids on the same store: start from an empty store, as a fresh deployment would.
    const admin = new Redis(`${server.url}/0`);
    await admin.flushall();
    admin.disconnect();
    const onAmqp = await runApp(AMQP_URL);

    assert.equal(onRedis.broker, 'redis');
    assert.equal(onAmqp.broker, 'amqp');
    assert.equal(onAmqp.store, 'redis');
    const { broker: _r, ...seenOnRedis } = onRedis;
    const { broker: _a, ...seenOnAmqp } = onAmqp;
    assert.deepEqual(seenOnAmqp, seenOnRedis);
    // And what was seen is what the app means (not two runs failing alike).
    assert.equal((onAmqp['order-1'] as { result: unknown }).result, 'mailed 1250 (order-1/n4)');
    assert.ok((onAmqp['order-1'] as { nodes: string[] }).nodes.includes('n3 orders.reserve succeeded attempts=2 queue=default'));
    assert.ok((onAmqp['order-3'] as { nodes: string[] }).nodes.includes('e0 mail.alert succeeded attempts=1 queue=mail'));
    assert.equal((onAmqp['order-3'] as { state: string }).state, 'failed');
    assert.deepEqual(onAmqp.alerts, ['n1: card declined for 100']);
    assert.deepEqual((onAmqp['order-4'] as { result: unknown }).result, 750);
  });
});
