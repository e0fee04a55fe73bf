/**
 * DESIGN inv 8 / RELIABILITY D12: every script call of the Redis store touches one cluster slot. A workflow is
 * driven through every script (create, claim, renew, retry, replace, complete, fail with an errback, release,
 * cancel, replay, sweep), and workflows with ids minted in one tick through the cross-workflow batches (create_many,
 * claim_many, complete_many), while MONITOR records every command the server runs, including those inside
 * scripts. Then: each FCALL's declared keys hash to one slot (CRC16, cluster-key-slot), each command a script
 * runs touches only keys of that slot (a script declares each workflow's `wf` key and derives the others from
 * its tag, which Redis Cluster allows: docs/redis-data-model.md), each MULTI block and each plain command stays
 * in one slot. The same scenario then runs on a one-node Redis Cluster, which itself refuses any cross-slot
 * script or transaction (CROSSSLOT).
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { chain, group, sig } from '../../src/canvas/builders.js';
import { RedisStore } from '../../src/stores/redis/redis-store.js';
import { WORKFLOW_SCRIPTS } from '../../src/stores/redis/library.js';
import { storeLibrary } from '../../src/stores/redis/scripts.js';
import { fragmentGraph, Run, sweepUntil } from '../contracts/store/harness.js';
import { RedisServer } from '../support/redis-server.js';
import { requireRedis } from '../support/services.js';

const keySlot = createRequire(import.meta.url)('cluster-key-slot') as (key: string) => number;
const redis = await requireRedis();
const servers: RedisServer[] = [];
after(async () => {
  for (const s of servers) await s.stop();
});

/** Runs every script at least once, on one store. */
async function exercise(store: RedisStore): Promise<void> {
  const a = new Run(store);
  await a.create(chain(sig('a'), sig('b')));
  let c = await a.claim('n0');
  assert.equal(await store.renew({ workflowId: a.id, nodeId: 'n0', token: c.token, leaseMs: 60_000 }), 'ok');
  assert.equal((await a.retry('n0', c.token, 0)).status, 'ok');
  c = await a.claim('n0');
  assert.equal((await a.replace('n0', c.token, fragmentGraph(chain(sig('x'), sig('y')), 'n0', c.node))).status, 'ok');
  await a.run('n0.0', 1);
  await a.run('n0.1', 2);
  assert.equal((await a.run('n1', 3)).settled, 'succeeded');

  const b = new Run(store);
  await b.create(group(sig('p'), sig('q')).onError(sig('eb')));
  await b.runFail('n0');
  await b.run('n1', 'Q');
  assert.equal((await b.run('e0', null)).settled, 'failed');
  assert.equal((await b.replay()).status, 'ok');
  assert.equal((await b.run('n0', 'P')).settled, 'succeeded');

  const g = new Run(store); // claim_many and complete_many: several of one workflow in one tick
  await g.create(group(sig('p'), sig('q')));
  const [cp, cq] = await Promise.all([g.claim('n0'), g.claim('n1')]);
  const both = await Promise.all([g.complete('n0', cp.token, 1), g.complete('n1', cq.token, 2)]);
  assert.deepEqual(both.map((r) => r.settled), [undefined, 'succeeded']);

  // Batches across workflows: ids minted in one tick share a slot; their creates, claims and completes go as
  // create_many, claim_many and complete_many (with a repeated claim: `already`).
  const many = Array.from({ length: 4 }, () => new Run(store, store.mintWorkflowId()));
  await Promise.all(many.map((r) => r.create(sig('m'))));
  const tokens = (await Promise.all(many.map((r) => r.claim('n0')))).map((c) => c.token);
  const settled = await Promise.all(many.map((r, i) => r.complete('n0', tokens[i]!, i)));
  assert.deepEqual(settled.map((r) => r.settled), many.map(() => 'succeeded'));

  // A staged create: more nodes than the store's createChunkNodes (3, below), so stage runs twice ahead of it.
  const staged = new Run(store);
  await staged.create(chain(sig('s'), sig('s'), sig('s'), sig('s'), sig('s'), sig('s'), sig('s')));
  for (let i = 0; i < 7; i++) await staged.run(`n${i}`, i);
  assert.equal((await staged.snapshot()).state, 'succeeded');

  // Running workflows minted in one tick share a slot: the sweep looks at them in one sweep_many call.
  const idle = Array.from({ length: 3 }, () => new Run(store, store.mintWorkflowId()));
  await Promise.all(idle.map((r) => r.create(sig('w'))));

  const d = new Run(store);
  await d.create(chain(sig('a'), sig('b')));
  const held = await d.claim('n0');
  assert.equal((await store.release({ workflowId: d.id, nodeId: 'n0', token: held.token })).status, 'ok');
  await d.claim('n0', { leaseMs: 1 });
  await sweepUntil(d, (all) => all.redelivered >= 1);
  assert.equal((await store.cancel(d.id)).status, 'ok');
  for (const run of [a, b, g, staged, d, ...many]) {
    await store.snapshot(run.id);
    await store.outcome(run.id);
    await store.history(run.id);
  }
}

interface Seen { args: string[]; source: string }

async function keysOf(client: Redis, args: string[]): Promise<string[]> {
  try {
    return (await client.call('COMMAND', 'GETKEYS', ...args)) as string[];
  } catch {
    return []; // TIME, PUBLISH, MULTI, EXEC, PING...: no key arguments
  }
}

describe('redis store: one cluster slot per script call', { skip: redis.skip }, () => {
  test('MONITOR: declared keys share one slot and scripts touch only keys of that slot', async () => {
    const server = await RedisServer.start();
    servers.push(server);
    const watcher = new Redis(server.url);
    const monitor = await watcher.monitor();
    const seen: Seen[] = [];
    monitor.on('monitor', (_time: string, args: string[], source: string) => seen.push({ args, source }));
    const store = new RedisStore({ url: server.url, prefix: 'slots', history: true, createChunkNodes: 3 });
    await store.connect();
    await exercise(store);
    await store.close();
    const probe = new Redis(server.url);
    await probe.echo('end-of-scenario');
    while (!seen.some((s) => s.args[0]?.toLowerCase() === 'echo')) await new Promise((r) => setTimeout(r, 10));
    monitor.disconnect();
    watcher.disconnect();

    const library = storeLibrary();
    const names = new Map([...WORKFLOW_SCRIPTS, 'unindex' as const].map((n) => [library.functionName(n), n]));
    const ran = new Set<string>();
    let script: { slot: number } | undefined;
    const multi = new Map<string, Set<number>>();
    let scriptCommands = 0;
    for (const { args, source } of seen) {
      const name = args[0]!.toLowerCase();
      const keys = await keysOf(probe, args);
      const slots = new Set(keys.map(keySlot));
      if (source === 'lua') {
        assert.ok(script, `a script command without its script: ${args.join(' ')}`);
        for (const key of keys) assert.equal(keySlot(key), script.slot, `${args[0]} touches ${key}, outside the declared keys' slot`);
        scriptCommands++;
        continue;
      }
      assert.ok(!['eval', 'evalsha'].includes(name), 'the store calls its functions only (FCALL)');
      if (name === 'fcall') {
        assert.equal(slots.size, 1, `script call over ${slots.size} slots: ${keys.join(' ')}`);
        script = { slot: [...slots][0]! };
        const called = names.get(args[1]!);
        assert.ok(called, `FCALL of a function outside the store's library: ${args[1]}`);
        ran.add(called);
        continue;
      }
      if (name === 'multi') multi.set(source, new Set());
      else if (name === 'exec') {
        assert.ok((multi.get(source)?.size ?? 0) <= 1, 'a MULTI block over several slots');
        multi.delete(source);
      } else if (multi.has(source)) for (const s of slots) multi.get(source)!.add(s);
      else assert.ok(slots.size <= 1, `${args[0]} over ${slots.size} slots`);
    }
    probe.disconnect();
    // unindex runs off the commit path and may not have run before close: it is not required here.
    assert.deepEqual([...ran].filter((n) => n !== 'unindex').sort(), [...WORKFLOW_SCRIPTS].sort());
    assert.ok(scriptCommands > 100, `only ${scriptCommands} script commands seen`);
  });

  test('the same scenario on a one-node Redis Cluster (CROSSSLOT enforced by the server)', async () => {
    const server = await RedisServer.start({ extraArgs: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'] });
    servers.push(server);
    const admin = new Redis(server.url);
    await admin.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
    while (!/cluster_state:ok/.test((await admin.call('CLUSTER', 'INFO')) as string)) await new Promise((r) => setTimeout(r, 50));
    admin.disconnect();
    const store = new RedisStore({ url: server.url, prefix: 'cluster', history: true, createChunkNodes: 3 });
    await store.connect();
    await exercise(store);
    await store.close();
  });
});
