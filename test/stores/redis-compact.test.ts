/**
 * The compact layout of one-node workflows (src/stores/redis/lua/compact.lua): a workflow of one root node
 * whose result is the workflow's lives in its `wf` hash alone while it is created, claimed and completed; every
 * other transition first inflates it into the general layout. What a user reads (snapshot, outcome, history,
 * events) must not tell the two layouts apart: each case below takes a snapshot in the compact layout, forces
 * an inflate with a renew under a token nobody holds (answered `lost`, changes nothing), and compares.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, test, type TestContext } from 'node:test';
import type { Redis } from 'ioredis';
import { chain, group, sig } from '../../src/canvas/builders.js';
import type { WorkflowSnapshot } from '../../src/core/snapshot.js';
import { RedisStore } from '../../src/stores/redis/redis-store.js';
import { boom, listen, Run, sweepUntil } from '../contracts/store/harness.js';
import { requireRedis } from '../support/services.js';
import { BatchEnv, client, fcalls } from './redis-batch-support.js';

const redis = await requireRedis();
const env = new BatchEnv();
after(() => env.stop());

/** A store on the file's server (history as asked), and a plain client; both closed when `t` ends. */
async function open(t: TestContext, history = false, prefix = `c${randomUUID().slice(0, 8)}`): Promise<{ store: RedisStore; raw: Redis; url: string }> {
  const { url } = await env.open(t);
  const store = new RedisStore({ url, prefix, history, retentionMs: 600_000 });
  t.after(() => store.close());
  await store.connect();
  return { store, raw: client(t, url), url };
}

/** The names (suffixes) of the keys a workflow holds. */
async function keysOf(raw: Redis, store: RedisStore, run: Run): Promise<string[]> {
  const tag = store.keys.tag(run.id);
  return (await raw.keys(`${tag}:*`)).map((key) => key.slice(tag.length + 1)).sort();
}

async function isCompact(raw: Redis, store: RedisStore, run: Run): Promise<boolean> {
  return (await raw.hexists(store.keys.key(run.id, 'wf'), '_id')) === 1;
}

/** Inflates the workflow (renew runs inflate() first) without changing it: no claim holds this token. */
async function inflate(store: RedisStore, run: Run, nodeId = 'n0'): Promise<void> {
  assert.equal(await store.renew({ workflowId: run.id, nodeId, token: `nobody-${randomUUID()}`, leaseMs: 1_000 }), 'lost');
}

/** Snapshot before and after an inflate: equal, and the layout did change. */
async function assertInflatesUnseen(raw: Redis, store: RedisStore, run: Run): Promise<WorkflowSnapshot> {
  assert.ok(await isCompact(raw, store, run), 'compact before');
  const before = await run.snapshot();
  const outcome = await store.outcome(run.id);
  await inflate(store, run);
  assert.ok(!(await isCompact(raw, store, run)), 'general after');
  assert.deepEqual(await run.snapshot(), before);
  assert.deepEqual(await store.outcome(run.id), outcome);
  return before;
}

describe('redis store: compact one-node workflows', { skip: redis.skip }, () => {
  test('create, claim and complete keep the workflow in its wf hash alone; it expires whole', async (t) => {
    const { store, raw } = await open(t);
    const feed = await listen(store);
    t.after(() => feed.stop());
    const run = new Run(store);
    const { ready } = await run.create(sig('one', [1, 'x'], { queue: 'q1', priority: 3 }));
    assert.deepEqual(ready.map((r) => [r.nodeId, r.task, r.queue, r.priority, r.attempt]), [['n0', 'one', 'q1', 3, 1]]);
    assert.deepEqual(await keysOf(raw, store, run), ['wf']);
    const queued = await run.node('n0');
    assert.deepEqual([queued.state, queued.attempts, queued.args, queued.queue, queued.task], ['queued', 0, [1, 'x'], 'q1', 'one']);
    const c = await run.claim('n0');
    assert.deepEqual(c.node.args, [1, 'x']);
    assert.deepEqual([c.node.attempt, c.node.retries, c.node.redeliveries, c.node.kind], [1, 0, 0, 'task']);
    assert.deepEqual(await keysOf(raw, store, run), ['wf']);
    const done = await run.complete('n0', c.token, { ok: [1.5, 'é'] });
    assert.deepEqual([done.status, done.settled, done.ready], ['ok', 'succeeded', []]);
    assert.deepEqual(await keysOf(raw, store, run), ['wf']);
    const ttl = await raw.pttl(store.keys.key(run.id, 'wf'));
    assert.ok(ttl > 0 && ttl <= 600_000, `ttl ${ttl}`);
    const snap = await run.snapshot();
    assert.equal(snap.state, 'succeeded');
    assert.deepEqual(snap.result, { ok: [1.5, 'é'] });
    const node = snap.nodes[0]!;
    assert.deepEqual([node.state, node.attempts, node.result], ['succeeded', 1, { ok: [1.5, 'é'] }]);
    assert.ok(node.startedAt !== undefined && node.finishedAt !== undefined && node.startedAt <= node.finishedAt);
    await feed.barrier();
    assert.deepEqual(feed.events.filter((e) => e.workflowId === run.id).map((e) => e.type), ['settled']);
  });

  test('a one-node workflow of short arguments and result stays a listpack hash: its stored spec leaves defaults out', async (t) => {
    const { store, raw } = await open(t);
    const run = new Run(store);
    const key = store.keys.key(run.id, 'wf');
    // A task queue's usual arguments: an id (36 characters) and a flag.
    await run.create(sig('orders.charge', [randomUUID(), true]));
    assert.equal(await raw.object('ENCODING', key), 'listpack');
    const c = await run.claim('n0');
    assert.equal(await raw.object('ENCODING', key), 'listpack');
    await run.complete('n0', c.token, 42);
    assert.equal(await raw.object('ENCODING', key), 'listpack');
    assert.equal(await raw.hget(key, '_spec'), JSON.stringify({ args: c.node.args }));
    const node = (await run.snapshot()).nodes[0]!;
    assert.deepEqual([node.task, node.args, node.queue, node.deps, node.result], ['orders.charge', c.node.args, 'default', [], 42]);
  });

  test('a compact claim answers the claimed node the general layout answers (its reply is the short form)', async (t) => {
    const { store, raw } = await open(t);
    const canvas = sig('orders.charge', ['id-1', { n: 2 }], { queue: 'q2', priority: 4, maxRetries: 3, timeLimitMs: 5_000, countdownMs: 0 });
    const compact = new Run(store);
    await compact.create(canvas);
    const general = new Run(store);
    await general.create(canvas);
    await inflate(store, general);
    assert.ok((await isCompact(raw, store, compact)) && !(await isCompact(raw, store, general)));
    const a = await compact.claim('n0');
    const b = await general.claim('n0');
    assert.deepEqual(a.node, b.node);
    const [again, againGeneral] = [await compact.tryClaim('n0', { token: a.token }), await general.tryClaim('n0', { token: b.token })];
    assert.ok(again.status === 'claimed' && againGeneral.status === 'claimed');
    assert.deepEqual(again.node, againGeneral.node);
  });

  test('repeated and stale claims and completes answer as in the general layout', async (t) => {
    const { store } = await open(t);
    const run = new Run(store);
    await run.create(sig('one', [1]));
    assert.equal((await run.tryClaim('n0', { task: 'other' })).status, 'forged');
    assert.equal((await run.tryClaim('n0', { attempt: 2 })).status, 'stale');
    assert.equal((await run.tryClaim('n9')).status, 'orphan');
    // Two claims in one tick (one claim_many call): one wins, the other is stale; a re-sent claim is `already`.
    const [a, b] = await Promise.all([run.tryClaim('n0'), run.tryClaim('n0')]);
    assert.deepEqual([a.status, b.status].sort(), ['claimed', 'stale']);
    const won = a.status === 'claimed' ? a : b;
    const again = await run.tryClaim('n0', { token: won.token });
    assert.ok(again.status === 'claimed' && again.already);
    assert.equal((await run.complete('n0', 'not-the-token', 1)).status, 'stale');
    assert.equal((await run.complete('n9', won.token, 1)).status, 'orphan');
    // The same completion twice in one tick (one complete_many call): applied once.
    const [x, y] = await Promise.all([run.complete('n0', won.token, 7), run.complete('n0', won.token, 7)]);
    assert.deepEqual([x.status, y.status], ['ok', 'already']);
    assert.equal(x.settled, 'succeeded');
    assert.equal((await run.tryClaim('n0')).status, 'stale');
    assert.equal((await store.outcome(run.id))?.result, 7);
  });

  test('ignoreResult: the workflow keeps the result, the node shows none, also once inflated', async (t) => {
    const { store, raw } = await open(t);
    const run = new Run(store);
    await run.create(sig('one', [1]));
    const c = await run.claim('n0');
    await run.complete('n0', c.token, 'kept', true);
    const snap = await assertInflatesUnseen(raw, store, run);
    assert.equal(snap.result, 'kept');
    assert.equal('result' in snap.nodes[0]!, false);
  });

  for (const stage of ['queued', 'running', 'succeeded'] as const) {
    test(`inflating a ${stage} workflow changes nothing a reader sees, and it goes on in the general layout`, async (t) => {
      const { store, raw } = await open(t, true);
      const run = new Run(store);
      await run.create(sig('one', [2], { countdownMs: 0 }));
      let token: string | undefined;
      if (stage !== 'queued') token = (await run.claim('n0')).token;
      if (stage === 'succeeded') await run.complete('n0', token!, 4);
      await assertInflatesUnseen(raw, store, run);
      if (stage === 'succeeded') {
        // Keys written by the inflate of a settled workflow expire with it.
        for (const name of await keysOf(raw, store, run)) {
          const ttl = await raw.pttl(store.keys.key(run.id, name as 'wf'));
          assert.ok(ttl > 0 && ttl <= 600_000, `${name}: ${ttl}`);
        }
      } else {
        token ??= (await run.claim('n0')).token;
        assert.deepEqual([(await run.complete('n0', token, 4)).settled], ['succeeded']);
      }
      assert.equal((await store.outcome(run.id))?.result, 4);
      const moves = (await store.history(run.id)).map((h) => `${h.from}>${h.to}`);
      assert.deepEqual(moves, ['pending>queued', 'queued>running', 'running>succeeded']);
    });
  }

  test('the initial record is kept only when it is not the default record of its task; attempt and counters never are', async (t) => {
    const { store, raw } = await open(t);
    const plain = new Run(store);
    await plain.create(sig('orders.charge', [1]));
    const routed = new Run(store);
    await routed.create(sig('orders.charge', [1], { queue: 'q1' }));
    const quoted = new Run(store);
    await quoted.create(sig('say "hi"\\', [1]));
    const wf = (run: Run): string => store.keys.key(run.id, 'wf');
    const fields = async (run: Run): Promise<Array<string | null>> => raw.hmget(wf(run), '_rec', '_t');
    assert.deepEqual(await fields(plain), [null, 'orders.charge']);
    assert.deepEqual(await fields(routed), ['{"s":"pending","t":"orders.charge","qu":"q1","ni":true}', 'orders.charge']);
    assert.deepEqual(await fields(quoted), [JSON.stringify({ s: 'pending', t: 'say "hi"\\', ni: true }), 'say "hi"\\']);
    // Neither the attempt nor the workflow counters are stored (compact.lua COMPACT_ATTEMPT, COMPACT_RUN).
    for (const run of [plain, routed, quoted]) {
      assert.deepEqual((await raw.hmget(wf(run), '_a', '_q', 'open', 'failed', 'ebn', 'run')).filter((v) => v !== null), []);
    }
    for (const [run, task, queue] of [[plain, 'orders.charge', 'default'], [routed, 'orders.charge', 'q1'], [quoted, 'say "hi"\\', 'default']] as const) {
      const node = (await run.snapshot()).nodes[0]!;
      assert.deepEqual([node.task, node.state, node.queue], [task, 'queued', queue]);
      await assertInflatesUnseen(raw, store, run);
    }
  });

  test('a compact workflow written by an earlier store (_q, _a, the default _rec and the counters stored) reads and moves as one written now', async (t) => {
    const { store, raw } = await open(t);
    const now = new Run(store);
    await now.create(sig('one', [3]));
    const before = new Run(store);
    await before.create(sig('one', [3]));
    const key = store.keys.key(before.id, 'wf');
    const createdAt = (await raw.hget(key, 'createdAt'))!;
    await raw.hset(key, '_q', createdAt, '_a', '1', '_rec', '{"s":"pending","t":"one","ni":true}', 'open', '1', 'failed', '0', 'ebn', '0', 'run', '0');
    const view = (snap: WorkflowSnapshot): unknown => snap.nodes.map((n) => [n.task, n.state, n.args, n.attempts, n.queue]);
    assert.deepEqual(view(await before.snapshot()), view(await now.snapshot()));
    const [a, b] = [await now.claim('n0'), await before.claim('n0')];
    assert.deepEqual(b.node, a.node);
    assert.deepEqual(view(await before.snapshot()), view(await now.snapshot()));
    await assertInflatesUnseen(raw, store, before);
    assert.equal((await before.complete('n0', b.token, 5)).settled, 'succeeded');
    assert.equal((await now.complete('n0', a.token, 5)).settled, 'succeeded');
    assert.deepEqual(view(await before.snapshot()), view(await now.snapshot()));
  });

  test('fail, retry and cancel inflate first and behave as for any workflow', async (t) => {
    const { store, raw } = await open(t);
    const failed = new Run(store);
    await failed.create(sig('one', [1]));
    const f = await failed.claim('n0');
    assert.equal((await failed.fail('n0', f.token, boom('no'))).settled, 'failed');
    assert.equal(await isCompact(raw, store, failed), false);
    assert.deepEqual((await store.outcome(failed.id))?.failures.map((x) => [x.nodeId, x.error.message]), [['n0', 'no']]);
    const replay = await failed.replay();
    assert.equal(replay.status, 'ok');
    const again = await failed.claim('n0');
    assert.equal(again.attempt, 2);
    assert.equal((await failed.complete('n0', again.token, 'second')).settled, 'succeeded');

    const retried = new Run(store);
    await retried.create(sig('one', [1]));
    const r = await retried.claim('n0');
    assert.equal((await retried.retry('n0', r.token, 0)).status, 'ok');
    const second = await retried.claim('n0');
    assert.deepEqual([second.attempt, second.node.retries], [2, 1]);
    assert.equal((await retried.complete('n0', second.token, 2)).settled, 'succeeded');

    const canceled = new Run(store);
    await canceled.create(sig('one', [1]));
    const k = await canceled.claim('n0');
    assert.equal((await store.cancel(canceled.id)).status, 'ok');
    assert.equal((await canceled.complete('n0', k.token, 1)).status, 'stale');
    assert.equal((await canceled.snapshot()).state, 'canceled');
  });

  test('the sweep looks at an idle compact workflow in place and inflates one whose lease lapsed', async (t) => {
    const { store, raw } = await open(t);
    const idle = new Run(store);
    await idle.create(sig('one', [1]));
    const lapsing = new Run(store);
    await lapsing.create(sig('one', [2]));
    await lapsing.claim('n0', { leaseMs: 1 });
    const swept = await sweepUntil(lapsing, (all) => all.redelivered >= 1);
    assert.deepEqual(swept.ready.filter((m) => m.workflowId === lapsing.id).map((m) => m.nodeId), ['n0']);
    assert.equal(await isCompact(raw, store, idle), true, 'nothing to do: left compact');
    assert.equal(await isCompact(raw, store, lapsing), false);
    const redelivered = await lapsing.claim('n0');
    assert.equal(redelivered.node.redeliveries, 1);
    assert.equal((await lapsing.complete('n0', redelivered.token, 2)).settled, 'succeeded');
  });

  test('history written by a store with history on a workflow another store made compact expires with it', async (t) => {
    const prefix = `c${randomUUID().slice(0, 8)}`;
    const { store: plain, raw } = await open(t, false, prefix);
    const { store: recording } = await open(t, true, prefix);
    const run = new Run(plain);
    await run.create(sig('one', [1]));
    const other = new Run(recording, run.id);
    other.note(run.published);
    const c = await other.claim('n0');
    assert.equal((await other.complete('n0', c.token, 1)).settled, 'succeeded');
    assert.deepEqual(await keysOf(raw, plain, run), ['hist', 'wf']);
    for (const name of ['wf', 'hist'] as const) assert.ok((await raw.pttl(plain.keys.key(run.id, name))) > 0, name);
  });

  test('history written on compact workflows expires with them when a store without history completes them', async (t) => {
    const prefix = `c${randomUUID().slice(0, 8)}`;
    const { store: plain, raw, url } = await open(t, false, prefix);
    const { store: recording } = await open(t, true, prefix);
    // Two ids minted in one tick share a slot, so their completions below go as one complete_many call (a
    // single entry goes as complete).
    const runs = [recording.mintWorkflowId(), recording.mintWorkflowId()].map((id) => new Run(recording, id));
    await Promise.all(runs.map((run) => run.create(sig('one', [1]))));
    const claims = await Promise.all(runs.map((run) => run.claim('n0')));
    // A workflow of the general layout in between, so the library holds another workflow's key names when the
    // completions come (a `hist` key name taken from those would be the wrong one).
    const between = new Run(plain);
    await between.create(chain(sig('one', [1]), sig('two')));
    await between.claim('n0');
    const seen = await fcalls(t, url, async () => {
      const done = await Promise.all(runs.map((run, i) => new Run(plain, run.id).complete('n0', claims[i]!.token, i)));
      assert.deepEqual(done.map((d) => d.settled), ['succeeded', 'succeeded']);
    });
    assert.equal(seen.get('complete_many'), 1);
    for (const run of runs) {
      assert.deepEqual(await keysOf(raw, plain, run), ['hist', 'wf']);
      for (const name of ['wf', 'hist'] as const) assert.ok((await raw.pttl(plain.keys.key(run.id, name))) > 0, name);
      assert.deepEqual((await recording.history(run.id)).map((h) => h.to), ['queued', 'running'], 'a store without history records none');
    }
  });

  test('history mode: each compact workflow records its own moves, whichever workflow a call ran before', async (t) => {
    const { store } = await open(t, true);
    const [a, b] = [new Run(store, store.mintWorkflowId()), new Run(store, store.mintWorkflowId())];
    await a.create(sig('one', [1]));
    await b.create(sig('one', [2]));
    // One call each, alternating workflows: a call that took another workflow's key names would write there.
    const ca = await a.claim('n0');
    const cb = await b.claim('n0');
    await a.complete('n0', ca.token, 1);
    await b.complete('n0', cb.token, 2);
    for (const run of [a, b]) {
      assert.deepEqual((await store.history(run.id)).map((h) => [h.node, h.from, h.to]),
        [['n0', 'pending', 'queued'], ['n0', 'queued', 'running'], ['n0', 'running', 'succeeded']]);
    }
  });

  test("a one-node create of an id the store did not mint deletes an expired workflow's leftover keys", async (t) => {
    const { store, raw } = await open(t);
    const run = new Run(store, `chosen-${randomUUID()}`);
    // Keys of an earlier workflow of this id that outlived its `wf` key (keys expire one by one).
    await raw.hset(store.keys.key(run.id, 'res'), 'n0', '"stale"');
    await raw.rpush(store.keys.key(run.id, 'hist'), 'stale');
    await run.create(sig('one', [1]));
    assert.deepEqual(await keysOf(raw, store, run), ['wf']);
    assert.ok(await isCompact(raw, store, run));
  });

  test('only one-node workflows whose result is the node take the compact layout', async (t) => {
    const { store, raw } = await open(t);
    for (const canvas of [group(sig('one', [1])), chain(sig('one', [1]), sig('two')), sig('one', [1]).onError(sig('eb'))]) {
      const run = new Run(store);
      await run.create(canvas);
      assert.equal(await isCompact(raw, store, run), false, JSON.stringify(canvas));
    }
  });
});
