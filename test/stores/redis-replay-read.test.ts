/**
 * Replay on Redis reads node states from the records' stored text and decodes only the records it replays
 * (lua/lib.lua allNodeTexts, stateIn, mayHide; lua/replay.lua). A property test draws chords with task names
 * built to look like the bytes the read keys on (a task named "s", names holding "¡", "©", "Ã" and state names),
 * random outcomes (succeeded, succeeded with the result dropped, failed) in random order and a default or a
 * chosen-nodes replay, and checks the Redis store against the memory store: the same replay answer, then the
 * same snapshot once every node left runs to the end. A second property does the same with random canvases
 * (nesting, errbacks, queues) through several rounds of failures, cancels and replays: a replay of a failed
 * workflow with no canceled task node reads only what it re-opens, any other every record's state
 * (lua/replay.lua `onlyFailed`).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { decode, encode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { chord, group, sig } from '../../src/canvas/builders.js';
import type { AnyCanvas } from '../../src/canvas/values.js';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';
import type { Store } from '../../src/stores/store.js';
import { readyIds, Run } from '../contracts/store/harness.js';
import { canvasArb } from '../support/canvas-arb.js';
import { FileRedis } from '../support/file-redis.js';
import { requireRedis } from '../support/services.js';

const redis = await requireRedis();
const files = new FileRedis();

type Outcome = 'ok' | 'dropped' | 'fail';

interface Case {
  headers: Array<{ task: string; outcome: Outcome }>;
  /** Header positions in the order they run. */
  order: number[];
  /** Undefined: the default replay; else these header positions (and the body when `body`). */
  chosen: { headers: number[]; body: boolean } | undefined;
}

/** Task names that hold the bytes the state read looks for, and any text. */
const taskName = fc.oneof(
  fc.constantFrom('s', 'h', '¡s', 'x¡s', '¡h', '¡hÃ', 's©succeeded', '¡s©failed', 'succeeded', 'failed', 'blocked', 'canceled', 'é'),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }),
);

const caseArb: fc.Arbitrary<Case> = fc
  .array(fc.record({ task: taskName, outcome: fc.constantFrom<Outcome>('ok', 'dropped', 'fail') }), { minLength: 1, maxLength: 6 })
  .chain((headers) => fc.record({
    headers: fc.constant(headers),
    order: fc.shuffledSubarray(headers.map((_, i) => i), { minLength: headers.length, maxLength: headers.length }),
    chosen: fc.option(fc.record({ headers: fc.uniqueArray(fc.nat(headers.length - 1), { minLength: 1, maxLength: headers.length }), body: fc.boolean() }), { nil: undefined }),
  }));

/** Runs one case on one store: the chord to its failure, the replay, then every node left to the end. */
async function play(store: Store, c: Case): Promise<{ replay: unknown; final: unknown }> {
  const headers = c.headers.map((h) => ({ ...h }));
  if (!headers.some((h) => h.outcome === 'fail')) headers[0]!.outcome = 'fail';
  const run = new Run(store, `rr${randomUUID().slice(0, 12)}`);
  await run.create(chord(headers.map((h, i) => sig(h.task, [i])), sig('body')));
  for (const i of c.order) {
    const id = `n${i}`;
    const { token } = await run.claim(id);
    const outcome = headers[i]!.outcome;
    if (outcome === 'fail') await run.fail(id, token);
    else await run.complete(id, token, i, outcome === 'dropped');
  }
  const body = `n${headers.length}`;
  const chosen = c.chosen ? [...c.chosen.headers.map((i) => `n${i}`), ...(c.chosen.body ? [body] : [])] : undefined;
  const res = await run.replay(chosen);
  const replay = res.status === 'ok' ? { status: res.status, nodes: res.nodes, ready: readyIds(res), settled: res.settled } : res;
  // Everything the replay made ready runs to the end, headers succeeding this time.
  for (let rounds = 0; rounds < 10 && res.status === 'ok'; rounds++) {
    const queued = Object.entries(await run.states()).filter(([, state]) => state === 'queued').map(([id]) => id);
    if (queued.length === 0) break;
    for (const id of queued) await run.run(id, id === body ? 'done' : Number(id.slice(1)));
  }
  const snap = await run.snapshot();
  return { replay, final: { state: snap.state, result: snap.result, nodes: snap.nodes.map((n) => [n.id, n.state, n.attempts, n.result ?? null]) } };
}

/**
 * A random canvas, the outcomes its nodes draw in turn (`cancel`: the workflow is canceled while that node
 * runs), and the nodes a replay names (indexes into the graph).
 */
interface Rounds {
  canvas: AnyCanvas;
  tape: Array<Outcome | 'cancel'>;
  chosen: Array<number[] | undefined>;
}

const roundsArb: fc.Arbitrary<Rounds> = fc.record({
  canvas: canvasArb({ maxDepth: 3 }),
  tape: fc.array(fc.constantFrom<Outcome | 'cancel'>('ok', 'ok', 'dropped', 'fail', 'fail', 'cancel'), { minLength: 1, maxLength: 60 }),
  chosen: fc.array(fc.option(fc.uniqueArray(fc.nat(40), { minLength: 1, maxLength: 4 }), { nil: undefined }), { minLength: 1, maxLength: 3 }),
});

/**
 * Runs a random canvas on one store: every queued node takes the next outcome of the tape (all succeed once it
 * is used up), the workflow settles, is replayed (by default or on chosen nodes), and so on; returns what each
 * replay answered and each settled snapshot.
 */
async function rounds(store: Store, r: Rounds): Promise<unknown[]> {
  const run = new Run(store, `rc${randomUUID().slice(0, 12)}`);
  await run.create(r.canvas);
  let next = 0;
  const seen: unknown[] = [];
  const drive = async (): Promise<void> => {
    for (let steps = 0; steps < 100; steps++) {
      const snap = await run.snapshot();
      if (snap.state !== 'running') {
        seen.push({ state: snap.state, result: snap.result ?? null, nodes: snap.nodes.map((n) => [n.id, n.state, n.attempts, n.result ?? null]) });
        return;
      }
      const queued = snap.nodes.filter((n) => n.state === 'queued');
      if (queued.length === 0) throw new Error(`running with nothing queued: ${JSON.stringify(snap.nodes.map((n) => [n.id, n.state]))}`);
      for (const node of queued) {
        const { token } = await run.claim(node.id);
        const outcome = r.tape[next++] ?? 'ok';
        if (outcome === 'cancel') {
          await store.cancel(run.id);
          break;
        }
        if (outcome === 'fail') await run.fail(node.id, token);
        else await run.complete(node.id, token, node.id, outcome === 'dropped');
      }
    }
    throw new Error('not settled after 100 steps');
  };
  await drive();
  for (const chosen of r.chosen) {
    const ids = (await run.snapshot()).nodes.map((n) => n.id);
    const res = await run.replay(chosen && ids.length > 0 ? [...new Set(chosen.map((i) => ids[i % ids.length]!))] : undefined);
    seen.push(res.status === 'ok' ? { status: res.status, nodes: res.nodes, ready: readyIds(res), settled: res.settled ?? null } : res);
    if (res.status === 'ok') await drive();
  }
  return seen;
}

describe('redis store: replay reads states from record texts', { skip: redis.skip }, () => {
  test('reads a state whatever the key order of a MessagePack record, and from a JSON one', async () => {
    const { store, raw } = await files.open('rk');
    const run = new Run(store);
    await run.create(chord([sig('s', [0]), sig('s', [1]), sig('s', [2])], sig('body')));
    await run.runFail('n0');
    await run.run('n1', 1);
    await run.run('n2', 2);
    // Written back as a script could have: n1 with the task name "s" just before the key "s" (so the bytes
    // a1 's' a1 's' come first), the failed n0 as JSON text.
    const nodeKey = store.keys.key(run.id, 'node');
    const n1 = decode((await raw.hgetBuffer(nodeKey, 'n1'))!) as Record<string, unknown>;
    const { t, s: state, ...rest } = n1;
    assert.equal(state, 'succeeded');
    await raw.hset(nodeKey, 'n1', Buffer.from(encode({ t, s: state, ...rest })));
    const n0 = decode((await raw.hgetBuffer(nodeKey, 'n0'))!) as Record<string, unknown>;
    assert.equal(n0.s, 'failed');
    await raw.hset(nodeKey, 'n0', JSON.stringify({ s: n0.s, ...n0 }));
    const replayed = await run.replay();
    assert.equal(replayed.status, 'ok');
    assert.deepEqual(replayed.status === 'ok' && replayed.nodes, ['n0', 'n3'], 'only the failed header and the body');
  });

  test('canceled task nodes left by a replay of chosen nodes run again in the next replay, after the workflow failed', async () => {
    const { store } = await files.open('rx');
    for (const onStore of [store, new MemoryStore()]) {
      const run = new Run(onStore);
      await run.create(group(sig('a', [0]), sig('a', [1]), sig('a', [2])));
      await run.claim('n0');
      await onStore.cancel(run.id);
      const first = await run.replay(['n0']);
      assert.deepEqual(first.status === 'ok' && first.nodes, ['n0']);
      await run.runFail('n0');
      assert.deepEqual(await run.states(), { n0: 'failed', n1: 'canceled', n2: 'canceled' });
      const second = await run.replay();
      assert.deepEqual(second.status === 'ok' && second.nodes, ['n0', 'n1', 'n2'], `on ${onStore.constructor.name}`);
      await onStore.close?.();
    }
  });

  test('property: replay answers and ends as the memory store does, whatever the task names', async () => {
    const { store } = await files.open('rr');
    const memory = new MemoryStore();
    files.closeLater(() => memory.close());
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const [onRedis, inMemory] = [await play(store, c), await play(memory, c)];
        assert.deepEqual(onRedis, inMemory);
      }),
      { numRuns: 60 },
    );
  });

  test('property: random canvases through failures, cancels and replays (default and chosen, again and again) end as on the memory store', async () => {
    const { store } = await files.open('rc');
    const memory = new MemoryStore();
    files.closeLater(() => memory.close());
    await fc.assert(
      fc.asyncProperty(roundsArb, async (r) => {
        const [onRedis, inMemory] = [await rounds(store, r), await rounds(memory, r)];
        assert.deepEqual(onRedis, inMemory);
      }),
      { numRuns: 120 },
    );
  });
});
