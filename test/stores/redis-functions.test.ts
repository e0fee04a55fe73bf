/**
 * The Redis store's function library (scripts.ts): loaded at connect under a versioned, hashed name; loaded
 * again when the server lost it (FUNCTION FLUSH here; a restart without persistence in test/faults/f3b), with
 * every call that found it missing succeeding; another build's library lives beside it on the same server.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { chain, sig } from '../../src/canvas/builders.js';
import { LIBRARY_VERSION } from '../../src/stores/redis/library.js';
import { RedisStore } from '../../src/stores/redis/redis-store.js';
import { Scripts, storeLibrary } from '../../src/stores/redis/scripts.js';
import { Run } from '../contracts/store/harness.js';
import { RedisServer } from '../support/redis-server.js';
import { requireRedis } from '../support/services.js';

const redis = await requireRedis();
let server: Promise<RedisServer> | undefined;
const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  if (server) await (await server).stop();
});

async function fresh(): Promise<{ store: RedisStore; raw: Redis }> {
  server ??= RedisServer.start({ appendonly: false });
  const { url } = await server;
  const store = new RedisStore({ url, prefix: `f${randomUUID().slice(0, 8)}` });
  await store.connect();
  const raw = new Redis(url);
  cleanups.push(() => store.close(), () => raw.disconnect());
  return { store, raw };
}

async function libraries(raw: Redis): Promise<string[]> {
  const list = (await raw.call('FUNCTION', 'LIST')) as unknown[][];
  return list.map((entry) => String(entry[entry.indexOf('library_name') + 1])).sort();
}

async function loads(raw: Redis): Promise<number> {
  const stats = await raw.info('commandstats');
  return Number(/cmdstat_function\|load:calls=(\d+)/.exec(stats)?.[1] ?? 0);
}

describe('redis store function library', { skip: redis.skip }, () => {
  test('one library, named by version and source hash, shared by every store on the server', async () => {
    const { raw } = await fresh();
    await fresh();
    const library = storeLibrary();
    assert.match(library.name, new RegExp(`^braid_store_v${LIBRARY_VERSION}_[0-9a-f]{8}$`));
    assert.ok((await libraries(raw)).includes(library.name));
    assert.equal(library.functionName('claim'), `${library.name}_claim`);
  });

  test('after FUNCTION FLUSH the library is loaded again and every waiting call succeeds', async () => {
    const { store, raw } = await fresh();
    const runs = Array.from({ length: 50 }, () => new Run(store));
    for (const run of runs) await run.create(chain(sig('a'), sig('b')));
    await raw.call('FUNCTION', 'FLUSH');
    const before = await loads(raw);
    const claims = await Promise.all(runs.map((run) => run.claim('n0')));
    assert.ok(claims.every((c) => c.node.task === 'a'));
    const reloads = (await loads(raw)) - before;
    assert.ok(reloads >= 1 && reloads < runs.length, `${reloads} loads for ${runs.length} calls`);
    assert.deepEqual(await libraries(raw), [storeLibrary().name]);
    for (const [i, run] of runs.entries()) assert.equal((await run.complete('n0', claims[i]!.token, i)).status, 'ok');
  });

  test("another build's library lives beside this one; neither replaces the other", async () => {
    const { store, raw } = await fresh();
    const ours = storeLibrary();
    const otherName = `braid_store_v${LIBRARY_VERSION}_00000000`;
    const other = { name: otherName, code: ours.code.replaceAll(ours.name, otherName), functionName: (s: string) => `${otherName}_${s}` };
    const scripts = new Scripts(raw, other);
    await scripts.load();
    await scripts.load();
    assert.deepEqual(await libraries(raw), [otherName, ours.name].sort());
    assert.equal(await scripts.run('unindex', [store.keys.active], ['nobody', 0]), 0);
    const run = new Run(store);
    await run.create(sig('a'));
    assert.equal((await run.run('n0', 1)).settled, 'succeeded');
  });
});
