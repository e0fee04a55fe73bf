/**
 * RELIABILITY D1 against the Redis store: workers claim and complete a chord's nodes through a TCP fault proxy
 * that resets every connection every 40 ms and partitions it once, so ioredis re-sends in-flight scripts
 * after each reconnect (a re-sent script may have run). The history must show every transition once, the
 * chord body made ready once, and the workflow settle with the reference result; what a lost reply hid is
 * recovered by the sweep (inv 4).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { chain, chord, group, sig } from '../../src/canvas/builders.js';
import { RedisStore } from '../../src/stores/redis/redis-store.js';
import type { ReadyNode } from '../../src/stores/store.js';
import { storedGraph } from '../contracts/store/harness.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { RedisServer } from '../support/redis-server.js';
import { requireRedis } from '../support/services.js';

const redis = await requireRedis();
const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('redis store under connection faults (D1)', { skip: redis.skip }, () => {
  test('connection resets and a partition: every transition once, the body once, the right result', { timeout: 120_000 }, async (t) => {
    const server = await RedisServer.start();
    cleanups.push(() => server.stop());
    const proxy = await FaultProxy.start({ port: server.port });
    cleanups.push(() => proxy.close());
    const store = new RedisStore({ url: proxy.url('redis'), prefix: 'faults', history: true });
    await store.connect();
    cleanups.push(() => store.close());

    const width = 150;
    const canvas = chain(chord(Array.from({ length: width }, (_, i) => sig('h', [i])), sig('body')), group(sig('x'), sig('y')));
    const id = `wf-${randomUUID()}`;
    const queue: ReadyNode[] = [...(await store.create(id, storedGraph(canvas))).ready];
    let settled = false;
    const counts = { already: 0, stale: 0, republished: 0 };

    const worker = async (): Promise<void> => {
      while (!settled) {
        const m = queue.shift();
        if (!m) {
          await sleep(5);
          continue;
        }
        const token = randomUUID();
        const claim = await store.claim({ workflowId: id, nodeId: m.nodeId, attempt: m.attempt, task: m.task, token, leaseMs: 60_000 });
        if (claim.status !== 'claimed') {
          counts.stale++;
          continue;
        }
        const result = m.nodeId === `n${width}` ? claim.node.args[0]! : m.nodeId;
        const done = await store.complete({ workflowId: id, nodeId: m.nodeId, token, result: JSON.stringify(result), ignoreResult: false });
        if (done.status === 'already') counts.already++;
        queue.push(...done.ready);
        if (done.settled) settled = true;
      }
    };
    const sweeper = async (): Promise<void> => {
      while (!settled) {
        await sleep(100);
        const swept = await store.sweep({ republishAfterMs: 300 });
        counts.republished += swept.ready.length;
        queue.push(...swept.ready);
        if ((await store.outcome(id))?.state !== 'running') settled = true;
      }
    };
    const faults = async (): Promise<void> => {
      for (let i = 0; i < 50 && !settled; i++) {
        await sleep(40);
        proxy.cutAll();
      }
      proxy.partition();
      await sleep(500);
      proxy.heal();
    };
    // Every loop ends when one fails, so a failing test cannot leave the others spinning.
    const loops = [faults(), sweeper(), ...Array.from({ length: 8 }, worker)].map((p) => p.catch((error: unknown) => {
      settled = true;
      throw error;
    }));
    await Promise.all(loops);

    const outcome = await store.outcome(id);
    assert.equal(outcome?.state, 'succeeded');
    assert.deepEqual(outcome?.result, [`n${width + 1}`, `n${width + 2}`]);
    const history = await store.history(id);
    const keys = history.map((h) => `${h.node} ${h.from}>${h.to} #${h.attempt}`);
    assert.equal(new Set(keys).size, keys.length, 'a transition applied twice');
    assert.equal(history.filter((h) => h.node === `n${width}` && h.to === 'queued').length, 1);
    assert.equal(history.filter((h) => h.to === 'succeeded').length, width + 3);
    const snapshot = await store.snapshot(id);
    assert.deepEqual(snapshot?.nodes.find((n) => n.id === `n${width}`)?.result, Array.from({ length: width }, (_, i) => `n${i}`));
    t.diagnostic(`re-sent commits answered already: ${counts.already}; stale claims: ${counts.stale}; republished: ${counts.republished}`);
  });
});
