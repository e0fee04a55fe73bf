/**
 * A create lets go of its graph once the call is written, not when the reply comes: a suspended async frame keeps
 * every parameter and local alive until it returns, so a frame waiting for the reply with the graph (or the call's
 * argument strings) in it kept a whole graph alive through the round trip. Checked with the server paused for
 * writes, so the reply cannot come, and a forced full GC: the graph must be gone while the create still waits.
 */
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { after, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { chord, sig } from '../../src/canvas/builders.js';
import { RedisStore } from '../../src/stores/redis/redis-store.js';
import { Scripts } from '../../src/stores/redis/scripts.js';
import type { StoredGraph } from '../../src/stores/store.js';
import { storedGraph } from '../contracts/store/harness.js';
import { RedisServer } from '../support/redis-server.js';
import { requireRedis } from '../support/services.js';

const redis = await requireRedis();
const cleanups: Array<() => Promise<unknown> | void> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** Runs `unindex` with fresh arguments and keeps only a weak reference to them. */
function runWeakly(scripts: Scripts, pairs: number): { args: WeakRef<string[]>; reply: Promise<unknown> } {
  const args = Array.from({ length: 2 * pairs }, (_, i) => (i % 2 === 0 ? `wf-${i}-${'x'.repeat(64)}` : '0'));
  return { args: new WeakRef(args), reply: scripts.run('unindex', ['release:active'], args) };
}

/** Two turns of the event loop, then a full GC (twice: a WeakRef's target is kept through the job that made it). */
async function collectAfterSend(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve)); // the tick's calls leave at its end
  await new Promise((resolve) => setImmediate(resolve));
  collectGarbage();
  await new Promise((resolve) => setImmediate(resolve));
  collectGarbage();
}

/** Starts the create of a fresh graph and keeps only a weak reference to it (no frame of this test holds it). */
function createWeakly(store: RedisStore, workflowId: string, headers: number): { graph: WeakRef<StoredGraph>; created: Promise<{ created: boolean }> } {
  const graph = storedGraph(chord(Array.from({ length: headers }, (_, i) => sig('a', [`argument ${i} `.repeat(8)])), sig('b')));
  return { graph: new WeakRef(graph), created: store.createAndSend(workflowId, graph, []) };
}

describe('redis store: a create in flight', { skip: redis.skip }, () => {
  test('lets go of its graph once the call is written, before the reply', { timeout: 60_000 }, async () => {
    const server = await RedisServer.start({ appendonly: false });
    cleanups.push(() => server.stop());
    const store = new RedisStore({ url: server.url, prefix: 'release' });
    await store.connect();
    cleanups.push(() => store.close());
    const admin = new Redis(server.url);
    cleanups.push(() => admin.disconnect());

    // Writes wait while the server is paused: the create is written, and its reply cannot come.
    await admin.call('CLIENT', 'PAUSE', '30000', 'WRITE');
    const workflowId = store.mintWorkflowId();
    const { graph, created } = createWeakly(store, workflowId, 1_000);
    let settled = false;
    void created.then(() => (settled = true), () => (settled = true));
    await collectAfterSend();
    assert.equal(settled, false, 'the create answered while the server was paused: the check proves nothing');
    assert.equal(graph.deref(), undefined, 'the graph is still alive while its create waits for the reply');

    await admin.call('CLIENT', 'UNPAUSE');
    assert.deepEqual(await created, { created: true });
    const snapshot = await store.snapshot(workflowId);
    assert.equal(snapshot?.nodes.length, 1_001);
  });

  test("a script call lets go of its argument strings once written, before the reply", { timeout: 60_000 }, async () => {
    const server = await RedisServer.start({ appendonly: false });
    cleanups.push(() => server.stop());
    const client = new Redis(server.url);
    cleanups.push(() => client.disconnect());
    const admin = new Redis(server.url);
    cleanups.push(() => admin.disconnect());
    const scripts = new Scripts(client);
    await scripts.load();

    await admin.call('CLIENT', 'PAUSE', '30000', 'WRITE');
    const { args, reply } = runWeakly(scripts, 2_000);
    let settled = false;
    void reply.then(() => (settled = true), () => (settled = true));
    await collectAfterSend();
    assert.equal(settled, false, 'the call answered while the server was paused: the check proves nothing');
    assert.equal(args.deref(), undefined, 'the argument strings are still alive while the call waits for the reply');

    await admin.call('CLIENT', 'UNPAUSE');
    assert.equal(await reply, 0);
  });
});
