/**
 * The Redis store's scripts beyond the store contract: each one run twice with the same arguments (RELIABILITY
 * D1/D2), retention (PEXPIRE at settle, PERSIST at replay, nothing left after it: inv 9, P7), the global index of
 * running workflows, and user JSON that must come back byte-for-byte although Lua handles it (cjson would turn
 * `[]` into `{}` and round floats).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { chain, chord, group, sig } from '../../src/canvas/builders.js';
import type { AnyCanvas } from '../../src/canvas/values.js';
import type { JsonValue } from '../../src/core/json.js';
import { replayFrom } from '../../src/stores/redis/codes.js';
import { DEFAULT_REDIS_RETENTION_MS, RedisStore } from '../../src/stores/redis/redis-store.js';
import { Scripts } from '../../src/stores/redis/scripts.js';
import { boom, Run, sweepUntil } from '../contracts/store/harness.js';
import { RedisServer } from '../support/redis-server.js';
import { requireRedis } from '../support/services.js';

const redis = await requireRedis();
let server: Promise<RedisServer> | undefined;
const clients: Array<{ close(): Promise<void> } | Redis> = [];
after(async () => {
  for (const c of clients) await ('disconnect' in c ? Promise.resolve(c.disconnect()) : c.close());
  if (server) await (await server).stop();
});

async function fresh(options: { retentionMs?: number; history?: boolean } = {}): Promise<{ store: RedisStore; raw: Redis }> {
  server ??= RedisServer.start();
  const { url } = await server;
  const store = new RedisStore({ url, prefix: `s${randomUUID().slice(0, 8)}`, history: options.history ?? true, ...options });
  await store.connect();
  const raw = new Redis(url);
  clients.push(store, raw);
  return { store, raw };
}

/** Everything a re-run must leave unchanged. */
async function state(store: RedisStore, run: Run): Promise<unknown> {
  return { snapshot: await store.snapshot(run.id), history: await store.history(run.id), outcome: await store.outcome(run.id) };
}

/** Polls until `read` gives `expected` (the unindex after a settle runs off the commit path). Bounded. */
async function eventually<T>(read: () => Promise<T>, expected: T): Promise<void> {
  for (let i = 0; i < 200 && (await read()) !== expected; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(await read(), expected);
}

async function workflowKeys(raw: Redis, store: RedisStore, id: string): Promise<string[]> {
  return raw.keys(`${store.keys.tag(id)}:*`);
}

describe('redis store scripts', { skip: redis.skip }, () => {
  test('create, claim, renew, cancel and sweep run twice with the same arguments apply once', async () => {
    const { store } = await fresh();
    const run = new Run(store);
    const canvas = chain(sig('a'), group(sig('b'), sig('c')));
    assert.equal((await run.create(canvas)).created, true);
    let before = await state(store, run);
    assert.deepEqual(await run.create(canvas), { created: false, ready: [] });
    assert.deepEqual(await state(store, run), before);

    const request = { workflowId: run.id, nodeId: 'n0', attempt: 1, task: 'a', token: randomUUID(), leaseMs: 60_000 };
    const first = await store.claim(request);
    assert.equal(first.status, 'claimed');
    before = await state(store, run);
    const second = await store.claim(request);
    assert.deepEqual(second, { ...first, already: true });
    assert.deepEqual(await state(store, run), before);
    for (let i = 0; i < 2; i++) assert.equal(await store.renew({ ...request, leaseMs: 60_000 }), 'ok');
    assert.deepEqual((await store.history(run.id)).filter((h) => h.node === 'n0'), [
      { node: 'n0', from: 'pending', to: 'queued', attempt: 1 },
      { node: 'n0', from: 'queued', to: 'running', attempt: 1, token: request.token },
    ]);

    assert.deepEqual(await store.cancel(run.id), { status: 'ok', state: 'canceled' });
    before = await state(store, run);
    assert.deepEqual(await store.cancel(run.id), { status: 'already', state: 'canceled' });
    assert.deepEqual(await state(store, run), before);
    assert.equal(await store.renew({ ...request, leaseMs: 60_000 }), 'canceled');

    assert.equal((await run.replay()).status, 'ok');
    before = await state(store, run);
    // Another replay (a new call, not a re-sent one) finds the workflow running again: refused, nothing moves.
    assert.deepEqual(await run.replay(), { status: 'refused', state: 'running' });
    assert.deepEqual(await state(store, run), before);

    const lapsing = await run.claim('n0', { leaseMs: 1 });
    assert.ok(lapsing.token);
    const swept = await sweepUntil(run, (all) => all.redelivered === 1);
    assert.deepEqual(swept.ready.map((r) => r.nodeId), ['n0']);
    before = await state(store, run);
    assert.deepEqual(await store.sweep({ republishAfterMs: 3_600_000 }), { ready: [], redelivered: 0, lost: 0, settled: [] });
    assert.deepEqual(await state(store, run), before);
  });

  test('a replay sent twice with the same request id (a re-sent command) answers the same and applies once', async () => {
    const { store, raw } = await fresh();
    const run = new Run(store);
    await run.create(chain(sig('a'), sig('b')));
    await run.runFail('n0');
    const scripts = new Scripts(raw);
    const args = [run.id, '1', String(DEFAULT_REDIS_RETENTION_MS), store.keys.events, randomUUID(), '0'];
    const send = async (): Promise<ReturnType<typeof replayFrom>> => replayFrom(await scripts.run('replay', [store.keys.wf(run.id)], args), run.id);
    const first = await send();
    assert.equal(first.status, 'ok');
    assert.ok(first.status === 'ok' && first.ready.length === 1);
    const before = await state(store, run);
    const again = await send();
    assert.deepEqual(again, first);
    assert.deepEqual(await state(store, run), before);
    // Once its node is claimed, the same request answers with the same run and ids and nothing left to publish.
    run.note(first.status === 'ok' ? first.ready : []);
    await run.claim('n0');
    const later = await send();
    assert.deepEqual(later, first.status === 'ok' ? { ...first, ready: [] } : first);
    // A new replay call is another request: refused while running.
    assert.deepEqual(await run.replay(), { status: 'refused', state: 'running' });
  });

  test('retention: keys expire after settle, lose their TTL on replay, and nothing is left after it', async () => {
    const { store, raw } = await fresh({ retentionMs: 60_000 });
    const run = new Run(store);
    await run.create(group(sig('a'), sig('b')).onError(sig('eb')));
    await run.run('n0', 'A');
    const running = await workflowKeys(raw, store, run.id);
    assert.ok(running.length >= 6);
    for (const key of running) assert.equal(await raw.pttl(key), -1, key);
    await run.runFail('n1');
    assert.equal((await run.run('e0', null)).settled, 'failed');
    for (const key of await workflowKeys(raw, store, run.id)) {
      const ttl = await raw.pttl(key);
      assert.ok(ttl > 0 && ttl <= 60_000, `${key}: ${ttl}`);
    }
    assert.equal((await run.replay()).status, 'ok');
    for (const key of await workflowKeys(raw, store, run.id)) assert.equal(await raw.pttl(key), -1, key);

    const short = await fresh({ retentionMs: 150 });
    const quick = new Run(short.store);
    await quick.create(chain(sig('a'), sig('b')));
    await quick.run('n0', 1);
    assert.equal((await quick.run('n1', 2)).settled, 'succeeded');
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.deepEqual(await workflowKeys(short.raw, short.store, quick.id), []);
    assert.equal(await short.store.snapshot(quick.id), null);
  });

  test('the global index holds running workflows only, by run generation', async () => {
    const { store, raw } = await fresh();
    const run = new Run(store);
    await run.create(sig('a'));
    assert.equal(await raw.zscore(store.keys.active, run.id), '0');
    const c = await run.claim('n0');
    assert.equal((await run.fail('n0', c.token, boom())).settled, 'failed');
    await eventually(() => raw.zscore(store.keys.active, run.id), null);
    assert.equal((await run.replay()).status, 'ok');
    assert.equal(await raw.zscore(store.keys.active, run.id), '1');
    await store.cancel(run.id);
    await eventually(() => raw.zscore(store.keys.active, run.id), null);
    // A settle whose unindex was lost (crash) is cleaned by the sweep; a concurrent replay's entry is kept.
    await raw.zadd(store.keys.active, 1, run.id);
    await store.sweep({ republishAfterMs: 3_600_000 });
    assert.equal(await raw.zscore(store.keys.active, run.id), null);
    await raw.zadd(store.keys.active, 2, run.id);
    await store.sweep({ republishAfterMs: 3_600_000 });
    assert.equal(await raw.zscore(store.keys.active, run.id), '2');
    // A workflow whose create has not run yet stays indexed (grace period).
    await raw.zadd(store.keys.active, 0, 'not-created-yet');
    await store.sweep({ republishAfterMs: 3_600_000 });
    assert.equal(await raw.zscore(store.keys.active, 'not-created-yet'), '0');
  });

  const awkward: JsonValue[] = [
    [], {}, [[], [{}], { a: [] }], 0.1 + 0.2, 1e-7, -0.5, 2 ** 53 - 1, 123456789.123456789, 'é😀\u0000"\\/\n\t',
    { '': null, 'a/b': [true, false, null] }, '[', ']', 'null',
  ];

  test('user JSON passes through Lua byte for byte: chord body args, replaced results, workflow result', async () => {
    const { store } = await fresh();
    const run = new Run(store);
    const header = awkward.map((_, i) => sig('h', [i]));
    await run.create(chord(header, sig('body', [[], {}, 0.1])));
    for (let i = 0; i < awkward.length; i++) await run.run(`n${i}`, awkward[i]!);
    const body = await run.claim(`n${awkward.length}`);
    assert.deepEqual(body.node.args, [awkward, [], {}, 0.1]);
    assert.equal(JSON.stringify(body.node.args[0]), JSON.stringify(awkward));
    assert.equal((await run.complete(`n${awkward.length}`, body.token, awkward)).settled, 'succeeded');
    const snap = await run.snapshot();
    assert.equal(JSON.stringify(snap.result), JSON.stringify(awkward));
  });

  test('a recipe nested 400 groups deep builds without recursion limits', async () => {
    const { store } = await fresh();
    let canvas: AnyCanvas = sig('leaf');
    for (let i = 0; i < 400; i++) canvas = group(canvas);
    const run = new Run(store);
    await run.create(canvas);
    assert.equal((await run.run('n0', 'L')).settled, 'succeeded');
    let expected: JsonValue = 'L';
    for (let i = 0; i < 400; i++) expected = [expected];
    assert.deepEqual((await store.outcome(run.id))?.result, expected);
  });
});
