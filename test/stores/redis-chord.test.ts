/**
 * DESIGN inv 3 on Redis: fan-in is a counter, so a chord of 20,000 header nodes completes with the number of
 * Redis commands per completion flat from the first header to the last (no O(n) step anywhere). Counted with
 * INFO commandstats, which counts the commands scripts run as well as the scripts themselves; timings are
 * reported, not asserted (timing goals live in the benchmarks).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { chord, sig } from '../../src/canvas/builders.js';
import { RedisStore } from '../../src/stores/redis/redis-store.js';
import type { ReadyNode } from '../../src/stores/store.js';
import { storedGraph } from '../contracts/store/harness.js';
import { RedisServer } from '../support/redis-server.js';
import { requireRedis } from '../support/services.js';

const redis = await requireRedis();
const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

const WIDTH = 20_000;
const BATCH = 1_000;

/** Total calls per command name since the last CONFIG RESETSTAT. */
async function commandCalls(raw: Redis): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const m of (await raw.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

function sum(calls: Map<string, number>, except: readonly string[]): number {
  let total = 0;
  for (const [name, n] of calls) if (!except.includes(name)) total += n;
  return total;
}

describe('redis store: a 20,000-node chord', { skip: redis.skip }, () => {
  test('commands per completion stay flat; the body runs once with every result in order', { timeout: 600_000 }, async (t) => {
    const server = await RedisServer.start({ appendonly: false });
    cleanups.push(() => server.stop());
    const store = new RedisStore({ url: server.url, prefix: 'chord' });
    await store.connect();
    cleanups.push(() => store.close());
    const raw = new Redis(server.url);
    cleanups.push(() => raw.disconnect());

    const id = `wf-${randomUUID()}`;
    const graph = storedGraph(chord(Array.from({ length: WIDTH }, (_, i) => sig('h', [i])), sig('body')));
    let started = performance.now();
    const created = await store.create(id, graph);
    const createMs = performance.now() - started;
    assert.equal(created.ready.length, WIDTH);

    const perNode: number[] = [];
    const scriptsPerNode: number[] = [];
    const ready: ReadyNode[] = [];
    started = performance.now();
    for (let i = 0; i < WIDTH; i += BATCH) {
      await raw.config('RESETSTAT');
      const batch = created.ready.slice(i, i + BATCH);
      await Promise.all(batch.map(async (m) => {
        const token = randomUUID();
        const claim = await store.claim({ workflowId: id, nodeId: m.nodeId, attempt: m.attempt, task: m.task, token, leaseMs: 60_000 });
        assert.equal(claim.status, 'claimed');
        const done = await store.complete({ workflowId: id, nodeId: m.nodeId, token, result: JSON.stringify(m.nodeId), ignoreResult: false });
        assert.equal(done.status, 'ok');
        ready.push(...done.ready);
      }));
      const calls = await commandCalls(raw);
      perNode.push(sum(calls, ['config|resetstat', 'info']) / batch.length);
      scriptsPerNode.push((calls.get('fcall') ?? 0) / batch.length);
    }
    const completeMs = performance.now() - started;
    assert.deepEqual(ready.map((r) => r.nodeId), [`n${WIDTH}`], 'the body is made ready once, by the last completion');
    const first = perNode[0]!;
    for (const [i, n] of perNode.entries()) assert.ok(Math.abs(n - first) <= 0.01, `batch ${i}: ${n} commands per node, first batch ${first}`);

    started = performance.now();
    const body = await store.claim({ workflowId: id, nodeId: `n${WIDTH}`, attempt: 1, task: 'body', token: 'b', leaseMs: 60_000 });
    const bodyClaimMs = performance.now() - started;
    assert.equal(body.status, 'claimed');
    if (body.status === 'claimed') assert.deepEqual(body.node.args[0], Array.from({ length: WIDTH }, (_, i) => `n${i}`));
    const end = await store.complete({ workflowId: id, nodeId: `n${WIDTH}`, token: 'b', result: '"done"', ignoreResult: false });
    assert.equal(end.settled, 'succeeded');
    t.diagnostic(`create ${WIDTH} nodes: ${createMs.toFixed(0)} ms; claim+complete of all headers: ${completeMs.toFixed(0)} ms `
      + `(${(completeMs / WIDTH).toFixed(2)} ms per node, ${BATCH} in flight)`);
    t.diagnostic(`Redis commands per header (claim + complete, script calls included): ${first}; script calls per header: ${scriptsPerNode[0]}`);
    t.diagnostic(`body claim (args built from ${WIDTH} results): ${bodyClaimMs.toFixed(0)} ms`);
  });
});
