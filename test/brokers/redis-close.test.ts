/**
 * API.md: `app.close()` releases every connection and timer, so a process that calls it exits on its own; here
 * on the Redis broker under the least-privilege ACL user of docs/redis-data-model.md, whose consumer's BZPOPMIN
 * is still in flight when its connection is dropped (ioredis 5.11 leaves that command's timer armed).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { RedisServer } from '../support/redis-server.js';
import { requireRedis } from '../support/services.js';

const redis = await requireRedis();
const run = promisify(execFile);

test('a process that closes its app as the least-privilege ACL user exits on its own, no timer left', { skip: redis.skip, timeout: 30_000 }, async (t) => {
  const server = await RedisServer.start();
  t.after(() => server.stop());
  const admin = new Redis(server.url);
  await admin.call('ACL', 'SETUSER', 'braid', 'on', '>pw', '~{braid:*', '~braid:*', '&braid:*',
    '+@read', '+@write', '+@scripting', '+@pubsub', '+@connection', '+@transaction', '-@dangerous', '+info', '+time');
  admin.disconnect();
  const url = `redis://braid:pw@127.0.0.1:${server.port}/0`;
  const env = { ...process.env, BRAID_TEST_BROKER: url, BRAID_TEST_STORE: url };
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'test/support/close-exits.ts'], { timeout: 25_000, env });
  assert.deepEqual(stdout.trim().split('\n'), ['6', '[]']);
});
