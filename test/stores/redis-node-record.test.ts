/**
 * Node records in the Redis store (lua/lib.lua decodeRecord, src/stores/redis/node-record.ts): create writes
 * JSON, the first script that changes a node writes it back as MessagePack (Redis' cmsgpack), and both the
 * scripts and the TypeScript reads decode either. A property test checks the two MessagePack codecs agree:
 * whatever record-shaped JSON Redis turns into cmsgpack decodes in TypeScript to the same value. Records leave out
 * the fields at their default (RECORD_DEFAULTS) and every reader fills them back in.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decode, encode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { chain, sig } from '../../src/canvas/builders.js';
import { decodeNodeRecord, RECORD_DEFAULTS, withRecordDefaults } from '../../src/stores/redis/node-record.js';
import { RedisStore } from '../../src/stores/redis/redis-store.js';
import { Run } from '../contracts/store/harness.js';
import { FileRedis } from '../support/file-redis.js';
import { requireRedis } from '../support/services.js';

const MSGPACK_FIXMAP_FIRST = 0x80;

describe('decodeNodeRecord', () => {
  test('reads a JSON record and a MessagePack one alike', () => {
    const rec = { s: 'running', r: 0, a: 2, rt: 1, rd: 0, n: 3, k: 'task', t: 'émail.send', e: [], ni: true, sa: 1_796_396_603_763 };
    const filled = { ...rec, c: 0, m: 5, qu: 'default' };
    assert.deepEqual(decodeNodeRecord(Buffer.from(JSON.stringify(rec))), filled);
    assert.deepEqual(decodeNodeRecord(Buffer.from(encode(rec))), filled);
  });

  test('fills in the fields a record leaves out at their default, and keeps those it holds', () => {
    const slim = { s: 'queued', t: 'a', ni: true };
    assert.deepEqual(decodeNodeRecord(Buffer.from(encode(slim))), { ...slim, r: 0, a: 1, rt: 0, rd: 0, n: 0, k: 'task', c: 0, m: 5, qu: 'default' });
    const held = { s: 'failed', t: 'a', r: 2, a: 3, rt: 2, rd: 1, n: 4, k: 'errback', c: 50, m: 9, qu: 'slow' };
    assert.deepEqual(decodeNodeRecord(Buffer.from(JSON.stringify(held))), held);
  });

  test('refuses MessagePack that is not a map', () => {
    assert.throws(() => decodeNodeRecord(Buffer.from(encode([1, 2]))), /not a map/);
    assert.throws(() => decodeNodeRecord(Buffer.from(encode('s'))), /not a map/);
  });
});

const redis = await requireRedis();
const files = new FileRedis();

describe('redis store: node records', { skip: redis.skip }, () => {
  const open = (): Promise<{ store: RedisStore; raw: Redis }> => files.open('nr');

  test('are JSON as created and MessagePack once a script wrote them back; a snapshot reads both', async () => {
    const { store, raw } = await open();
    const run = new Run(store);
    await run.create(chain(sig('a'), sig('b')));
    const nodeKey = store.keys.key(run.id, 'node');
    const firstByte = async (id: string): Promise<number | undefined> => (await raw.hgetBuffer(nodeKey, id))?.[0];
    assert.equal(await firstByte('n0'), '{'.charCodeAt(0), 'created as JSON');

    const { token } = await run.claim('n0');
    assert.ok(((await firstByte('n0')) ?? 0) >= MSGPACK_FIXMAP_FIRST, 'written back by the claim as MessagePack');
    assert.equal(await firstByte('n1'), '{'.charCodeAt(0), 'the pending node is untouched');
    const running = await run.node('n0');
    assert.equal(running.state, 'running');
    assert.equal(running.attempts, 1);
    assert.equal(typeof running.startedAt, 'number');
    assert.equal((await run.node('n1')).state, 'pending');

    await run.complete('n0', token, 'x');
    const done = await run.snapshot();
    assert.deepEqual(done.nodes.map((n) => [n.id, n.state]), [['n0', 'succeeded'], ['n1', 'queued']]);
    assert.ok(((await firstByte('n1')) ?? 0) >= MSGPACK_FIXMAP_FIRST, 'n1 was written back when it became ready');
    assert.equal(done.nodes[0]?.result, 'x');
  });

  test('a failed workflow\'s outcome reads the failed node from its MessagePack record', async () => {
    const { store } = await open();
    const run = new Run(store);
    await run.create(chain(sig('a'), sig('b')));
    await run.runFail('n0');
    const outcome = await store.outcome(run.id);
    assert.equal(outcome?.state, 'failed');
    assert.deepEqual(outcome?.failures.map((f) => [f.nodeId, f.task]), [['n0', 'a']]);
  });

  /** The fields a node's stored record holds, as stored (no defaults filled in). */
  async function storedFields(store: RedisStore, raw: Redis, workflowId: string, nodeId: string): Promise<Record<string, unknown>> {
    const bytes = await raw.hgetBuffer(store.keys.key(workflowId, 'node'), nodeId);
    assert.ok(bytes, `no record for ${nodeId}`);
    return (bytes[0] === '{'.charCodeAt(0) ? JSON.parse(bytes.toString()) : decode(bytes)) as Record<string, unknown>;
  }

  test('leave out the fields at their default, as created and as written back by a script', async () => {
    const { store, raw } = await open();
    const run = new Run(store);
    await run.create(chain(sig('a'), sig('b')));
    const defaulted = Object.keys(RECORD_DEFAULTS);
    const created = await storedFields(store, raw, run.id, 'n0');
    assert.deepEqual(defaulted.filter((f) => f in created), [], `created with ${JSON.stringify(created)}`);
    assert.equal('e' in created, false);
    assert.equal((await storedFields(store, raw, run.id, 'n1')).r, 1, 'a fan-in counter of 1 is kept');
    const { token } = await run.claim('n0');
    const claimed = await storedFields(store, raw, run.id, 'n0');
    assert.deepEqual(defaulted.filter((f) => f in claimed), ['n'], `claimed: ${JSON.stringify(claimed)} (only the starts counter, now 1)`);
    assert.equal('e' in claimed, false);
    await run.complete('n0', token, 1);
    const next = await storedFields(store, raw, run.id, 'n1');
    assert.equal('r' in next, false, 'the counter left out once it reached 0');
    const snap = await run.snapshot();
    assert.deepEqual(snap.nodes.map((n) => [n.id, n.state, n.kind, n.queue, n.attempts, n.redeliveries]), [['n0', 'succeeded', 'task', 'default', 1, 0], ['n1', 'queued', 'task', 'default', 0, 0]]);
  });

  test('keep the fields that are not at their default through every write-back', async () => {
    const { store, raw } = await open();
    const run = new Run(store);
    await run.create(chain(sig('a', [], { queue: 'slow', countdownMs: 1, maxRedeliveries: 2 }), sig('b')));
    const created = await storedFields(store, raw, run.id, 'n0');
    assert.deepEqual([created.qu, created.c, created.m], ['slow', 1, 2]);
    let claim = await run.tryClaim('n0');
    while (claim.status === 'early') claim = await run.tryClaim('n0');
    assert.equal(claim.status, 'claimed');
    const first = claim.status === 'claimed' ? claim : assert.fail('not claimed');
    await run.retry('n0', first.token, 0);
    const retried = await storedFields(store, raw, run.id, 'n0');
    assert.deepEqual([retried.qu, retried.c, retried.m, retried.a, retried.rt, retried.n], ['slow', 1, 2, 2, 1, 1]);
    const second = await run.claim('n0');
    assert.equal(second.node.retries, 1);
    assert.equal(second.node.attempt, 2);
    await run.complete('n0', second.token, 'ok');
    const done = await storedFields(store, raw, run.id, 'n0');
    assert.deepEqual([done.qu, done.c, done.m, done.a, done.rt, done.n, done.s], ['slow', 1, 2, 2, 1, 2, 'succeeded']);
    const snap = await run.node('n0');
    assert.deepEqual([snap.queue, snap.attempts, snap.state], ['slow', 2, 'succeeded']);
  });

  test('property: what cmsgpack makes of a record-shaped JSON value decodes to that value', async () => {
    const { raw } = await open();
    // Integers as the records hold them (counters, epoch-ms times), strings of any text, flags, errback lists.
    const value = fc.oneof(
      fc.integer({ min: -(2 ** 31), max: 2 ** 31 }),
      fc.integer({ min: 0, max: 2 ** 52 }),
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.boolean(),
      fc.array(fc.nat(1_000), { minLength: 1, maxLength: 5 }),
    );
    // Field names as the records use them: short lower-case words.
    const record = fc.dictionary(fc.stringMatching(/^[a-z]{1,3}$/), value, { minKeys: 1, maxKeys: 20, noNullPrototype: true });
    await fc.assert(
      fc.asyncProperty(record, async (rec) => {
        const packed = (await raw.callBuffer('EVAL', 'return cmsgpack.pack(cjson.decode(ARGV[1]))', '0', JSON.stringify(rec))) as Buffer;
        assert.deepEqual(decodeNodeRecord(packed), withRecordDefaults({ ...rec }));
      }),
      { numRuns: 300 },
    );
  });
});
