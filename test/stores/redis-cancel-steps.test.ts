/**
 * A cancel in steps (lua/advance.lua cancelNodes): a workflow of more nodes than the store's cancelChunkNodes is
 * canceled in its first call and its open nodes are moved in the calls after, so no one call holds Redis for
 * seconds on a 100,000-node workflow. Between steps the workflow behaves as canceled all through: no claim,
 * no commit or renewal of a node still running, reads show the nodes not reached yet as canceled. A cancel left
 * half done (its caller died) is finished by the next cancel, a replay, or the sweep.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, test, type TestContext } from 'node:test';
import { Redis } from 'ioredis';
import { chord, sig } from '../../src/canvas/builders.js';
import { CODE } from '../../src/stores/redis/codes.js';
import { decodeNodeRecord } from '../../src/stores/redis/node-record.js';
import { DEFAULT_REDIS_RETENTION_MS, RedisStore } from '../../src/stores/redis/redis-store.js';
import { storeLibrary } from '../../src/stores/redis/scripts.js';
import { Run } from '../contracts/store/harness.js';
import { RedisServer } from '../support/redis-server.js';
import { requireRedis } from '../support/services.js';

const redis = await requireRedis();
let server: Promise<RedisServer> | undefined;
after(async () => {
  if (server) await (await server).stop();
});

const STEP = 4;
/** A chord of ten headers and its body: eleven nodes, n0..n9 and n10, canceled in three steps of four. */
const TEN = chord(Array.from({ length: 10 }, (_, i) => sig('h', [i])), sig('body'));

async function open(t: TestContext): Promise<{ store: RedisStore; raw: Redis }> {
  server ??= RedisServer.start({ appendonly: false });
  const { url } = await server;
  const store = new RedisStore({ url, prefix: `cs${randomUUID().slice(0, 8)}`, cancelChunkNodes: STEP });
  await store.connect();
  const raw = new Redis(url);
  t.after(async () => {
    await store.close();
    raw.disconnect();
  });
  return { store, raw };
}

/** The first step of a cancel alone, as a canceler that died right after it would leave the workflow. */
async function firstStepOnly(store: RedisStore, raw: Redis, id: string): Promise<unknown[]> {
  return (await raw.fcall(storeLibrary().functionName('cancel'), 1, store.keys.wf(id),
    id, '0', String(DEFAULT_REDIS_RETENTION_MS), store.keys.events, String(STEP))) as unknown[];
}

/** Node states as stored (the records themselves, not a snapshot, which reads an unfinished cancel as done). */
async function storedStates(store: RedisStore, raw: Redis, id: string): Promise<Record<string, string>> {
  const records = await raw.hgetallBuffer(store.keys.key(id, 'node'));
  return Object.fromEntries(Object.entries(records).map(([node, bytes]) => [node, decodeNodeRecord(bytes).s]));
}

async function fcalls(raw: Redis): Promise<number> {
  return Number(/cmdstat_fcall:calls=(\d+)/.exec(await raw.info('commandstats'))?.[1] ?? 0);
}

describe('redis store: a cancel in steps', { skip: redis.skip }, () => {
  test('a workflow of more nodes than cancelChunkNodes is canceled in steps; every open node ends canceled', async (t) => {
    const { store, raw } = await open(t);
    const run = new Run(store);
    await run.create(TEN);
    await run.run('n0', 0);
    await run.claim('n7');
    const before = await fcalls(raw);
    assert.deepEqual(await store.cancel(run.id), { status: 'ok', state: 'canceled' });
    assert.equal((await fcalls(raw)) - before, 3, 'eleven nodes in steps of four');
    const states = await storedStates(store, raw, run.id);
    assert.equal(states.n0, 'succeeded');
    for (let i = 1; i <= 10; i++) assert.equal(states[`n${i}`], 'canceled', `n${i}`);
    assert.equal(await raw.hexists(store.keys.wf(run.id), 'cz'), 0, 'no step left');
    assert.equal((await run.snapshot()).state, 'canceled');
    for (const name of ['wf', 'node', 'order', 'spec'] as const) assert.ok((await raw.pttl(store.keys.key(run.id, name))) > 0, `${name} has the retention`);
    assert.equal(await raw.exists(store.keys.key(run.id, 'ready'), store.keys.key(run.id, 'leases')), 0, 'the sweep indexes emptied');
    assert.deepEqual(await store.cancel(run.id), { status: 'already', state: 'canceled' });
  });

  test('between steps the workflow is canceled all through; the sweep takes the steps its canceler did not', async (t) => {
    const { store, raw } = await open(t);
    const run = new Run(store);
    await run.create(TEN);
    const held = await run.claim('n6'); // past the first step's four nodes
    assert.deepEqual(await firstStepOnly(store, raw, run.id), [CODE.OK, 'canceled', 0, 1], 'canceled, steps left');
    const states = await storedStates(store, raw, run.id);
    assert.equal(states.n6, 'running', 'not reached by the first step');
    assert.equal(states.n5, 'queued');
    assert.equal((await run.tryClaim('n5')).status, 'stale', 'no claim in a canceled workflow');
    assert.equal((await run.complete('n6', held.token, 6)).status, 'stale', 'a node still running is fenced off');
    assert.equal(await store.renew({ workflowId: run.id, nodeId: 'n6', token: held.token, leaseMs: 60_000 }), 'canceled');
    const snapshot = await run.snapshot();
    assert.equal(snapshot.state, 'canceled');
    assert.deepEqual(new Set(snapshot.nodes.map((n) => n.state)), new Set(['canceled']), 'read as the next steps will leave it');
    assert.equal(typeof snapshot.settledAt, 'number');
    assert.deepEqual(new Set(snapshot.nodes.map((n) => n.finishedAt)), new Set([snapshot.settledAt]), 'every node finished at the cancel');
    assert.notEqual(await raw.zscore(store.keys.active, run.id), null, 'kept in the index while steps are left');

    const swept = await store.sweep({ republishAfterMs: 3_600_000 });
    assert.deepEqual(swept, { ready: [], redelivered: 0, lost: 0, settled: [] });
    assert.deepEqual(new Set(Object.values(await storedStates(store, raw, run.id))), new Set(['canceled']));
    assert.deepEqual((await run.snapshot()).nodes.map((n) => n.finishedAt), snapshot.nodes.map((n) => n.finishedAt), 'the steps wrote what was read');
    assert.equal(await raw.hexists(store.keys.wf(run.id), 'cz'), 0);
    assert.equal(await raw.zscore(store.keys.active, run.id), null, 'dropped from the index once done');
  });

  test('a cancel left half done is finished by the next cancel, or first by a replay, which then runs it again', async (t) => {
    const { store, raw } = await open(t);
    const again = new Run(store);
    await again.create(TEN);
    await firstStepOnly(store, raw, again.id);
    assert.deepEqual(await store.cancel(again.id), { status: 'already', state: 'canceled' });
    assert.deepEqual(new Set(Object.values(await storedStates(store, raw, again.id))), new Set(['canceled']));
    assert.equal(await raw.hexists(store.keys.wf(again.id), 'cz'), 0);

    const replayed = new Run(store);
    await replayed.create(TEN);
    await replayed.run('n0', 0);
    await firstStepOnly(store, raw, replayed.id);
    const result = await replayed.replay();
    assert.equal(result.status, 'ok');
    assert.equal(await raw.hexists(store.keys.wf(replayed.id), 'cz'), 0);
    for (let i = 1; i < 10; i++) await replayed.run(`n${i}`, i);
    const body = await replayed.run('n10', 'done');
    assert.equal(body.settled, 'succeeded');
    assert.equal((await store.outcome(replayed.id))?.result, 'done');
  });
});
