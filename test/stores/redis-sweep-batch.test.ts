/**
 * The Redis sweep over the global index (sweeper.ts): the workflows of one slot in one `sweep_many` call, each
 * swept as `sweep` sweeps one; a budget for the whole call; a cursor in Redis that every store of a prefix
 * advances, so workers sweeping at once take turns through the index instead of each going over its first page.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, test, type TestContext } from 'node:test';
import { Redis } from 'ioredis';
import { chain, group, sig } from '../../src/canvas/builders.js';
import { RedisStore } from '../../src/stores/redis/redis-store.js';
import { workflowSlot } from '../../src/stores/redis/slot.js';
import { SWEEP_GROUP } from '../../src/stores/redis/sweeper.js';
import { Run } from '../contracts/store/harness.js';
import { RedisServer } from '../support/redis-server.js';
import { requireRedis } from '../support/services.js';

const redis = await requireRedis();
let server: Promise<RedisServer> | undefined;
after(async () => {
  if (server) await (await server).stop();
});

async function open(t: TestContext, prefix = `sb${randomUUID().slice(0, 8)}`): Promise<{ store: RedisStore; raw: Redis; url: string; prefix: string }> {
  server ??= RedisServer.start();
  const { url } = await server;
  const store = new RedisStore({ url, prefix });
  await store.connect();
  const raw = new Redis(url);
  t.after(async () => {
    await store.close();
    raw.disconnect();
  });
  return { store, raw, url, prefix };
}

/** `count` one-node workflows minted in one tick (so by slot groups of up to 256, mint.ts), created and queued. */
async function oneNodeRuns(store: RedisStore, count: number): Promise<Run[]> {
  const runs = Array.from({ length: count }, () => new Run(store, store.mintWorkflowId()));
  await Promise.all(runs.map((run) => run.create(sig('t'))));
  return runs;
}

/** Waits until the server's clock (the one leases are kept by) has passed `ms` from now. */
async function serverClockPasses(raw: Redis, ms: number): Promise<void> {
  const now = async (): Promise<number> => {
    const [s, us] = await raw.time();
    return Number(s) * 1000 + Number(us) / 1000;
  };
  const until = (await now()) + ms;
  while ((await now()) <= until) await new Promise((resolve) => setImmediate(resolve));
}

/** Store function calls (FCALL) made while `work` runs, by INFO commandstats. */
async function fcallsDuring(raw: Redis, work: () => Promise<unknown>): Promise<number> {
  const calls = async (): Promise<number> => Number(/cmdstat_fcall:calls=(\d+)/.exec(await raw.info('commandstats'))?.[1] ?? 0);
  const before = await calls();
  await work();
  return (await calls()) - before;
}

/** Two stores of one prefix, and `count` one-node workflows whose claims' leases have lapsed. */
async function twoStoresWithLapsedLeases(t: TestContext, count: number): Promise<{ a: RedisStore; b: RedisStore; raw: Redis }> {
  const { store: a, raw, prefix } = await open(t);
  const { store: b } = await open(t, prefix);
  const runs = await oneNodeRuns(a, count);
  await Promise.all(runs.map((run) => run.claim('n0', { leaseMs: 1 })));
  await serverClockPasses(raw, 5);
  return { a, b, raw };
}

describe('redis store: the sweep by slot', { skip: redis.skip }, () => {
  test('the workflows of one slot are looked at in one call: 300 idle workflows in 2 calls, not 300', async (t) => {
    const { store, raw, prefix } = await open(t);
    const runs = await oneNodeRuns(store, 300);
    const groups = new Map<number, number>();
    for (const run of runs) groups.set(workflowSlot(prefix, run.id), (groups.get(workflowSlot(prefix, run.id)) ?? 0) + 1);
    const expected = [...groups.values()].reduce((sum, n) => sum + Math.ceil(n / SWEEP_GROUP), 0);
    assert.equal(expected, 2, 'ids minted in one tick fill a slot group of 256, then start another');
    let result;
    const calls = await fcallsDuring(raw, async () => (result = await store.sweep({ republishAfterMs: 3_600_000, limit: 1_000 })));
    assert.equal(calls, expected);
    assert.deepEqual(result, { ready: [], redelivered: 0, lost: 0, settled: [] });
    assert.equal(await raw.zcard(store.keys.active), 300, 'running workflows stay indexed');
  });

  test('each workflow of a sweep_many call is swept as one sweep sweeps it', async (t) => {
    const { store, raw } = await open(t);
    // Minted in one tick: one slot, one call. Compact one-node workflows and a chain in the general layout.
    const [lapsed, idle, done, held] = [0, 1, 2, 3].map(() => new Run(store, store.mintWorkflowId())) as [Run, Run, Run, Run];
    const general = new Run(store, store.mintWorkflowId());
    await Promise.all([lapsed, idle, done, held].map((run) => run.create(sig('t'))).concat(general.create(chain(sig('a'), sig('b')))));
    await lapsed.claim('n0', { leaseMs: 1 });
    const finished = await done.claim('n0');
    assert.equal((await done.complete('n0', finished.token, 'ok')).settled, 'succeeded');
    await held.claim('n0', { leaseMs: 3_600_000 });
    await serverClockPasses(raw, 5);
    let result;
    const calls = await fcallsDuring(raw, async () => (result = await store.sweep({ republishAfterMs: 0, limit: 1_000 })));
    assert.equal(calls, 1, 'one sweep_many call for the five (plus nothing else)');
    const swept = result as unknown as { ready: Array<{ workflowId: string; nodeId: string; attempt: number }>; redelivered: number; lost: number };
    assert.equal(swept.redelivered, 1);
    assert.equal(swept.lost, 0);
    assert.deepEqual(
      swept.ready.map((m) => `${m.workflowId}/${m.nodeId}`).sort(),
      [`${lapsed.id}/n0`, `${idle.id}/n0`, `${general.id}/n0`].sort(),
      'the lapsed lease goes back, the unclaimed roots are republished; the held and the settled one give nothing',
    );
    assert.equal((await store.snapshot(lapsed.id))?.nodes.find((n) => n.id === 'n0')?.state, 'queued');
    assert.equal((await store.snapshot(held.id))?.nodes.find((n) => n.id === 'n0')?.state, 'running');
    assert.equal(await raw.zscore(store.keys.active, done.id), null, 'the settled workflow leaves the index');
    assert.notEqual(await raw.zscore(store.keys.active, idle.id), null);
  });

  test('idle, settled and missing workflows are answered from their peek (the quick way) as sweep answers them', async (t) => {
    const { store, raw } = await open(t);
    const [queued, held, done, general] = [0, 1, 2, 3].map(() => new Run(store, store.mintWorkflowId())) as [Run, Run, Run, Run];
    await Promise.all([queued, held, done].map((run) => run.create(sig('t'))).concat(general.create(chain(sig('a'), sig('b')))));
    await held.claim('n0', { leaseMs: 3_600_000 });
    const finished = await done.claim('n0');
    await done.complete('n0', finished.token, 'ok');
    // An index entry whose workflow does not exist (its create never ran): kept for the missing grace.
    const missing = store.mintWorkflowId();
    await raw.zadd(store.keys.active, 0, missing);
    const runs = [queued, held, done, general];
    const before = await Promise.all(runs.map((run) => run.snapshot()));
    for (let sweep = 0; sweep < 2; sweep++) {
      const result = await store.sweep({ republishAfterMs: 3_600_000, limit: 1_000 });
      assert.deepEqual([result.ready, result.redelivered, result.lost, result.settled], [[], 0, 0, []]);
    }
    assert.deepEqual(await Promise.all(runs.map((run) => run.snapshot())), before, 'nothing moved');
    assert.equal(await raw.zscore(store.keys.active, done.id), null, 'the settled workflow leaves the index');
    for (const run of [queued, held, general]) assert.notEqual(await raw.zscore(store.keys.active, run.id), null);
    assert.notEqual(await raw.zscore(store.keys.active, missing), null, 'a missing workflow stays for its grace');
    // And once due, the same workflows are acted on: the queued roots are republished.
    const due = await store.sweep({ republishAfterMs: 0, limit: 1_000 });
    assert.deepEqual(due.ready.map((m) => m.workflowId).sort(), [queued.id, general.id].sort());
  });

  test('a sweep_many call keeps to its budget; the next sweep goes on from where it stopped', async (t) => {
    const { store } = await open(t);
    // Twenty workflows of three roots each, minted in one tick: a page of ten holds 30 unclaimed nodes.
    const runs = Array.from({ length: 20 }, () => new Run(store, store.mintWorkflowId()));
    await Promise.all(runs.map((run) => run.create(group(sig('a'), sig('b'), sig('c')))));
    const first = await store.sweep({ republishAfterMs: 0, limit: 10 });
    assert.equal(first.ready.length, 10, 'ten of the 30 unclaimed nodes of the page: the budget is the call\'s, not each workflow\'s');
    const seen = new Set(first.ready.map((m) => m.workflowId));
    const second = await store.sweep({ republishAfterMs: 0, limit: 10 });
    assert.equal(second.ready.length, 10);
    for (const m of second.ready) assert.ok(!seen.has(m.workflowId), `${m.workflowId} again: the cursor did not move on`);
  });

  test('two stores of one prefix sweeping at once take turns through the index', async (t) => {
    const { a, b, raw } = await twoStoresWithLapsedLeases(t, 40);
    const [fromA, fromB] = await Promise.all([
      a.sweep({ republishAfterMs: 3_600_000, limit: 20 }),
      b.sweep({ republishAfterMs: 3_600_000, limit: 20 }),
    ]);
    assert.equal(fromA.redelivered + fromB.redelivered, 40, 'each store took its own 20 (each alone would take the same first 20)');
    const ids = [...fromA.ready, ...fromB.ready].map((m) => m.workflowId);
    assert.equal(new Set(ids).size, 40);
    // The cursor wraps: a third sweep of 30 over the 40 goes on past the end and around to the start.
    const third = await a.sweep({ republishAfterMs: 3_600_000, limit: 30 });
    assert.deepEqual(third, { ready: [], redelivered: 0, lost: 0, settled: [] });
    assert.equal(Number(await raw.get(a.keys.sweepCursor)), 70);
  });

  test('sweepers of one period share it out: the second of the period looks at half a page, the third a third', async (t) => {
    const { a, b } = await twoStoresWithLapsedLeases(t, 60);
    // A period of an hour: the three sweeps fall in one (a worker's sweeper passes its interval).
    const hour = { republishAfterMs: 3_600_000, limit: 30, everyMs: 3_600_000 };
    assert.equal((await a.sweep(hour)).redelivered, 30, 'the first sweeper of a period: a whole page');
    assert.equal((await b.sweep(hour)).redelivered, 15, 'the second: half');
    assert.equal((await a.sweep(hour)).redelivered, 10, 'the third: a third');
    assert.equal((await b.sweep({ republishAfterMs: 3_600_000, limit: 30 })).redelivered, 5, 'without a period: the whole page (what is left)');
  });
});
