/**
 * Retention of the Redis store's keys at settle (DESIGN inv 9, RELIABILITY P7) now that a settle expires only
 * the keys in the workflow's key mask (wf field `km`, lib.lua): every key a workflow holds must get the
 * retention, whichever script wrote it (results, hidden results, errors, errbacks, fragments, history, a replay
 * after a settle), and a workflow without a mask (created before it existed) gets it on all its keys. A static
 * check keeps every key-creating command of the Lua sources behind put(), which records the write.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { chain, chord, group, sig } from '../../src/canvas/builders.js';
import { RedisStore } from '../../src/stores/redis/redis-store.js';
import { fragmentGraph, Run, sweepUntil } from '../contracts/store/harness.js';
import { RedisServer } from '../support/redis-server.js';
import { requireRedis } from '../support/services.js';

const LUA_DIR = new URL('../../src/stores/redis/lua/', import.meta.url);
/** Commands that can create a key (those the scripts use, and their obvious relatives). */
const CREATING = ['HSET', 'HSETNX', 'HMSET', 'HINCRBY', 'SADD', 'RPUSH', 'LPUSH', 'ZADD', 'ZINCRBY', 'SET', 'INCR', 'APPEND'];

describe('redis store Lua: key-creating commands', () => {
  test('go through put() (the key mask records them), never rcall or redis.call', () => {
    // The one exception: setWf (lib.lua) writes the `wf` hash, which every mask holds.
    const setWf = /\nlocal function setWf\(key, \.\.\.\)\n  return redis\.call\('HSET', key, \.\.\.\)\nend\n/;
    for (const file of readdirSync(LUA_DIR).filter((f) => f.endsWith('.lua') && f !== 'unindex.lua')) {
      const source = readFileSync(new URL(file, LUA_DIR), 'utf8');
      if (file === 'lib.lua') assert.match(source, setWf);
      const text = source.replace(setWf, '\n');
      for (const cmd of CREATING) {
        assert.doesNotMatch(text, new RegExp(`(rcall|redis\\.call)\\('${cmd}'`), `${file}: ${cmd} outside put()`);
      }
    }
  });
});

const redis = await requireRedis();
let server: Promise<RedisServer> | undefined;
const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const cleanup of cleanups) await cleanup();
  if (server) await (await server).stop();
});

async function fresh(): Promise<{ store: RedisStore; raw: Redis }> {
  server ??= RedisServer.start({ appendonly: false });
  const { url } = await server;
  const store = new RedisStore({ url, prefix: `r${randomUUID().slice(0, 8)}`, history: true, retentionMs: 600_000 });
  await store.connect();
  const raw = new Redis(url);
  cleanups.push(() => store.close(), () => raw.disconnect());
  return { store, raw };
}

/** Every key of the workflow, with its TTL; asserts each one expires within the retention. */
async function assertAllExpire(raw: Redis, store: RedisStore, run: Run, atLeast: string[]): Promise<void> {
  const keys = await raw.keys(`${store.keys.tag(run.id)}:*`);
  for (const name of atLeast) assert.ok(keys.includes(store.keys.key(run.id, name as 'wf')), `${name} missing: ${keys.join(' ')}`);
  for (const key of keys) {
    const ttl = await raw.pttl(key);
    assert.ok(ttl > 0 && ttl <= 600_000, `${key}: ${ttl}`);
  }
}

describe('redis store retention at settle', { skip: redis.skip }, () => {
  test('results, hidden results, errors, errbacks, fragments and history all expire', async () => {
    const { store, raw } = await fresh();
    const run = new Run(store);
    await run.create(chain(sig('a'), group(sig('b'), sig('c')), sig('d')).onError(sig('eb')));
    let c = await run.claim('n0');
    await run.retry('n0', c.token, 0);
    c = await run.claim('n0');
    await run.replace('n0', c.token, fragmentGraph(chain(sig('x'), sig('y')), 'n0', c.node));
    await run.run('n0.0', 'X');
    c = await run.claim('n0.1');
    await run.complete('n0.1', c.token, 'Y', true);
    await run.run('n1', 'B');
    await run.runFail('n2');
    assert.equal((await run.run('e0', null)).settled, 'failed');
    await assertAllExpire(raw, store, run, ['wf', 'order', 'spec', 'node', 'deps', 'next', 'input', 'repl', 'res', 'err', 'eb', 'hist']);

    // A replay drops the retention; the second settle sets it again on what the replay wrote.
    assert.equal((await run.replay()).status, 'ok');
    await run.run('n2', 'C');
    c = await run.claim('n3');
    assert.equal((await run.complete('n3', c.token, 'D', true)).settled, 'succeeded');
    await assertAllExpire(raw, store, run, ['wf', 'res']);
  });

  test('a cancel with a hidden result and a running node, and a settle by a lost lease, expire every key', async () => {
    const { store, raw } = await fresh();
    const canceled = new Run(store);
    await canceled.create(chord([sig('a'), sig('b')], sig('c')));
    const a = await canceled.claim('n0');
    await canceled.complete('n0', a.token, 'A', true);
    await canceled.claim('n1');
    await store.cancel(canceled.id);
    await assertAllExpire(raw, store, canceled, ['hidden', 'res', 'hist']);

    const lost = new Run(store);
    await lost.create(sig('a').set({ maxRedeliveries: 0 }).onError(sig('eb')));
    await lost.claim('n0', { leaseMs: 1 });
    await sweepUntil(lost, (all) => all.lost === 1);
    assert.equal((await lost.run('e0', null)).settled, 'failed');
    await assertAllExpire(raw, store, lost, ['err', 'eb']);
  });

  test('a workflow without a key mask (created before it existed) gets the retention on all its keys', async () => {
    const { store, raw } = await fresh();
    const run = new Run(store);
    await run.create(chain(sig('a'), sig('b')));
    await run.run('n0', 'A');
    // Keys the mask does not know of, as an older build would have left them.
    await raw.hdel(store.keys.key(run.id, 'wf'), 'km');
    await raw.hset(store.keys.key(run.id, 'repl'), 'stray', '{}');
    assert.equal((await run.run('n1', 'B')).settled, 'succeeded');
    await assertAllExpire(raw, store, run, ['repl']);
  });

  test('a one-node workflow (compact layout, lua/compact.lua) settles with PEXPIRE on wf and hist, all it holds', async () => {
    const { store, raw } = await fresh();
    const run = new Run(store);
    await run.create(sig('a'));
    const c = await run.claim('n0');
    const before = await pexpires(raw);
    assert.equal((await run.complete('n0', c.token, 1)).settled, 'succeeded');
    assert.equal((await pexpires(raw)) - before, 2);
    await assertAllExpire(raw, store, run, ['wf', 'hist']);
    assert.equal((await raw.keys(`${store.keys.tag(run.id)}:*`)).length, 2);
  });

  test('a two-node chain settles with PEXPIRE on the keys it holds only', async () => {
    const { store, raw } = await fresh();
    const run = new Run(store);
    await run.create(chain(sig('a'), sig('b')));
    const a = await run.claim('n0');
    await run.complete('n0', a.token, 1);
    const b = await run.claim('n1');
    const before = await pexpires(raw);
    assert.equal((await run.complete('n1', b.token, 2)).settled, 'succeeded');
    // wf, order, spec, node, deps, input, res, hist; not leases and ready (in the mask since create, empty once
    // settled), nor next (n0's one dependent is in its record).
    const held = ['wf', 'order', 'spec', 'node', 'deps', 'input', 'res', 'hist'];
    assert.equal((await pexpires(raw)) - before, held.length);
    await assertAllExpire(raw, store, run, held);
  });
});

async function pexpires(raw: Redis): Promise<number> {
  return Number(/cmdstat_pexpire:calls=(\d+)/.exec(await raw.info('commandstats'))?.[1] ?? 0);
}
