/**
 * A store connection left half-open (RELIABILITY D3's class, on the store): the server's end is gone, the
 * client's stays open with commands written and no reply coming (the fault proxy's strand()). The fault property
 * test met it (seed 1906963265, a `CLIENT KILL` amid partitions and pauses): every worker's sweep waited forever on
 * its first command, so a lapsed lease never came back and a workflow never settled. With the store's
 * `socketTimeout` the connection is dropped, reconnected, and what was unanswered is re-sent.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { sig } from '../../src/canvas/builders.js';
import { RedisStore } from '../../src/stores/redis/redis-store.js';
import { storedGraph } from '../contracts/store/harness.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { RedisServer } from '../support/redis-server.js';
import { requireRedis } from '../support/services.js';

const redis = await requireRedis();
const cleanups: Array<() => Promise<unknown> | void> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** `promise`, or a rejection naming `what` once `ms` passed: a hang fails the test instead of stalling it. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer after ${ms} ms (the connection is wedged)`)), ms);
  });
  return Promise.race([promise, bound]).finally(() => clearTimeout(timer));
}

describe('redis store: a half-open connection', { skip: redis.skip }, () => {
  test('commands written before the server end died are re-sent on a new connection, not waited on forever', { timeout: 60_000 }, async () => {
    const server = await RedisServer.start({ appendonly: false });
    cleanups.push(() => server.stop());
    const proxy = await FaultProxy.start({ port: server.port });
    cleanups.push(() => proxy.close());
    const store = new RedisStore({ url: proxy.url('redis'), prefix: 'halfopen', socketTimeoutMs: 1_000 });
    await store.connect();
    cleanups.push(() => store.close());

    const id = store.mintWorkflowId();
    const [root] = (await store.create(id, storedGraph(sig('a', [1])))).ready;
    assert.ok(root);

    // The server's end of every store connection dies unseen; the client's stays open.
    proxy.strand();
    const claim = store.claim({ workflowId: id, nodeId: root.nodeId, attempt: 1, task: 'a', token: 't1', leaseMs: 60_000 });
    // A sweep starts with pipelines (its period rank, its page), as every worker's does.
    const sweep = store.sweep({ republishAfterMs: 60_000, everyMs: 1_000 });
    const claimed = await within(claim, 15_000, 'claim');
    assert.equal(claimed.status, 'claimed');
    await within(sweep, 15_000, 'sweep');
    // The new link works for what comes next.
    const done = await within(store.complete({ workflowId: id, nodeId: root.nodeId, token: 't1', result: '2', ignoreResult: false }), 15_000, 'complete');
    assert.equal(done.settled, 'succeeded');
  });
});
