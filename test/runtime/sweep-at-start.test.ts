/**
 * A worker sweeps as it starts, not only after its first interval: a node whose message was lost is published
 * again by a worker that has just started, with a sweep interval far longer than the test. Before, a worker that
 * lived shorter than the interval (a restart loop: F1's crash points) never swept, and a settled workflow whose
 * index drop died with its worker outlived its retention in the index.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { createApp, type App } from '../../src/index.js';
import { queueKeys } from '../../src/brokers/redis/keys.js';
import { RedisServer } from '../support/redis-server.js';
import { requireRedis } from '../support/services.js';

const redis = await requireRedis();

describe('a worker sweeps at start', { skip: redis.skip, timeout: 60_000 }, () => {
  let server: RedisServer;
  const apps: App[] = [];
  before(async () => {
    server = await RedisServer.start();
  });
  after(async () => {
    for (const app of apps) await app.close();
    await server?.stop();
  });

  test('a node whose message was lost runs without waiting out the sweep interval', async () => {
    const app = createApp({ broker: server.url, prefix: 'sw', logger: pino({ level: 'silent' }) });
    apps.push(app);
    const add = app.task('add', (_ctx, x: number, y: number) => x + y);
    const wf = await app.start(add.s(2, 3)); // stored and queued; no worker yet
    const admin = new Redis(server.url);
    try {
      const keys = queueKeys('sw', 'default');
      assert.ok((await admin.del(...keys.lists, keys.marker)) > 0, 'the message was in a ready list');
    } finally {
      admin.disconnect();
    }
    await new Promise((resolve) => setTimeout(resolve, 20)); // older than republishAfterMs
    await app.worker({ sweepIntervalMs: 3_600_000, republishAfterMs: 10 }).start();
    assert.equal(await wf.result({ timeoutMs: 10_000 }), 5);
    assert.ok(app.counters.get('sweep.republished') >= 1, JSON.stringify(app.counters.all()));
  });
});
