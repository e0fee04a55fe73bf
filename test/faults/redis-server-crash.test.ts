/**
 * The harness's crash watch (test/support/redis-server.ts `onCrash`): a redis-server that dies by itself is
 * reported with its exit status, one that the harness kills or stops on purpose is not. The fault property test
 * races its work against this watch, so a crashed server fails it at once instead of hanging to its timeout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireRedis } from '../support/services.js';
import { RedisServer } from '../support/redis-server.js';

const gate = await requireRedis();

test('onCrash reports a server that died by itself, with its exit signal', { skip: gate.skip }, async () => {
  const server = await RedisServer.start({ appendonly: false });
  try {
    const reported = new Promise<string>((resolve) => server.onCrash(resolve));
    process.kill(server.pid!, 'SIGKILL');
    assert.match(await reported, new RegExp(`redis-server on port ${server.port} exited with SIGKILL`));
  } finally {
    await server.stop();
  }
});

test('onCrash stays silent for kill(), restart() and stop()', { skip: gate.skip }, async () => {
  const server = await RedisServer.start({ appendonly: false });
  const reports: string[] = [];
  server.onCrash((why) => reports.push(why));
  await server.restart();
  await server.kill();
  await server.restart();
  const pid = server.pid!;
  await server.stop();
  // The stopped process is gone (kill -0 fails) and nothing was reported for any of it.
  assert.throws(() => process.kill(pid, 0));
  assert.deepEqual(reports, []);
});

test('an unsubscribed listener is not called', { skip: gate.skip }, async () => {
  const server = await RedisServer.start({ appendonly: false });
  try {
    const reports: string[] = [];
    const stop = server.onCrash((why) => reports.push(why));
    stop();
    const last = new Promise<string>((resolve) => server.onCrash(resolve));
    process.kill(server.pid!, 'SIGKILL');
    await last;
    assert.deepEqual(reports, []);
  } finally {
    await server.stop();
  }
});
