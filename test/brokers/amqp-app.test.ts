/**
 * The AMQP broker's settings reached through the app's URL alone (`createApp({ broker })`, BRAID_BROKER_URL):
 * `?queueType=classic` gives the 0-9 priorities of API.md (quorum queues on RabbitMQ 3.x are FIFO, so the
 * semantics suite's amqp mode skips that test), and a misspelt parameter fails the app's first use with
 * ConfigError instead of being ignored. Shared RabbitMQ under a random prefix, private redis-server as store.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { ConfigError, createApp } from '../../src/index.js';
import { AMQP_URL, AmqpJanitor, amqpAddress } from '../support/amqp.js';
import { RedisServer } from '../support/redis-server.js';
import { requireRabbit, requireRedis } from '../support/services.js';

const redis = await requireRedis();
const rabbit = await requireRabbit(amqpAddress().host, amqpAddress().port);
const withParams = (params: string): string => `${AMQP_URL}${AMQP_URL.includes('?') ? '&' : '?'}${params}`;

describe('an app on amqp:// configured by URL', { skip: redis.skip || rabbit.skip }, () => {
  const janitor = new AmqpJanitor(`braidtest_${randomBytes(4).toString('hex')}`);
  let server: RedisServer;
  before(async () => {
    server = await RedisServer.start();
  });
  after(async () => {
    await janitor.close();
    await server?.stop();
  });

  it('?queueType=classic: higher priorities run first on one worker with concurrency 1', { timeout: 60_000 }, async () => {
    const prefix = janitor.prefix('prio');
    const app = createApp({ broker: withParams('queueType=classic'), store: `${server.url}/0`, prefix, logger: pino({ level: 'silent' }) });
    try {
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let entered!: () => void;
      const inside = new Promise<void>((resolve) => (entered = resolve));
      const order: number[] = [];
      const blocker = app.task('blocker', async () => {
        entered();
        await gate;
        return 'unblocked';
      });
      const job = app.task('job', (_ctx, p: number) => {
        order.push(p);
        return p;
      });
      await app.worker({ concurrency: 1 }).start();
      const blocked = await app.start(blocker.s());
      await inside;
      const handles = [];
      for (const p of [1, 5, 9, 0, 7, 3]) handles.push(await app.start(job.s(p).set({ priority: p })));
      release();
      assert.equal(await blocked.result(), 'unblocked');
      for (const h of handles) await h.result();
      assert.deepEqual(order, [9, 7, 5, 3, 1, 0]);
    } finally {
      await app.close();
      await janitor.remove(prefix, ['default']);
    }
  });

  it('a misspelt URL parameter fails the first use with ConfigError', async () => {
    const app = createApp({ broker: withParams('queue_type=classic'), store: `${server.url}/0`, prefix: janitor.prefix('typo'), logger: pino({ level: 'silent' }) });
    const task = app.task('t', () => 1);
    try {
      await assert.rejects(app.start(task.s()), (error: unknown) => error instanceof ConfigError && /queue_type/.test(error.message));
    } finally {
      await app.close();
    }
  });
});
