/**
 * Measurement behind the "where a claim's Lua time goes" figures of docs/redis-data-model.md and
 * docs/benchmarks.md (session 13): loads the store's function library on a private redis-server together with
 * probe functions that run `claim_many`'s steps and stop part way, and prints redis-server CPU per entry of each.
 * Not a test (no `.test.ts`): run it by hand,
 *
 *   node --import tsx test/stores/redis-lua-probes.bench.ts [compact|chord] [entries per call] [entries]
 *
 * - `compact`: one-node workflows in the compact layout, one entry per workflow, all of one hash tag per call
 *   (as minted ids are): the batch alone, the batch with `begin()` and `loadWf`, and the library's `claim_many`
 *   (its quick way), against a bare `HMGET` + `HSET` + reply per entry (the floor of a compact claim).
 * - `chord`: the headers of one chord, claimed many per call: the batch, then reading the record, the move, the
 *   claimed fields, the write-back, and the library's `claim_many`.
 *
 * Each probe runs over fresh workflows (created through the store, so the layout is the real one) in a warm-up
 * round and a measured one, each on an emptied keyspace; differences of a few µs between rounds are noise on a
 * shared machine.
 */
import { Redis } from 'ioredis';
import { chord, sig } from '../../src/canvas/builders.js';
import { buildLibrary } from '../../src/stores/redis/library.js';
import { RedisStore } from '../../src/stores/redis/redis-store.js';
import { storedGraph } from '../contracts/store/harness.js';
import { RedisServer } from '../support/redis-server.js';

const [mode = 'compact', perCallText = '100', totalText = '20000'] = process.argv.slice(2);
const perCall = Number(perCallText);
const total = Number(totalText);
if (mode !== 'compact' && mode !== 'chord') throw new Error('mode: compact or chord');

/** The replies every probe builds per entry, shaped as claim_many's. */
const REPLY = "{ 6, 0, 'x', 0, '', 1, 0, 0, 'task', 0 }";

/** A probe over batch(): `inner` runs per entry (node id in `id`), `tail` once per workflow group. */
function overBatch(inner: string, tail = '', load = ''): string {
  return `return batch(KEYS, ARGV, 5, function(argv, from, to) local out = {} ${load} for i = from, to, 5 do local id = argv[i] ${inner} out[#out + 1] = ${REPLY} end ${tail} return out end)`;
}

const PROBES: Record<'compact' | 'chord', Record<string, string>> = {
  compact: {
    'replies only': `local out = {} for g = 1, #KEYS do out[g] = ${REPLY} end return out`,
    'floor: HMGET + HSET + reply': `local out = {} for g = 1, #KEYS do
      local v = redis.call('HMGET', KEYS[g], 'state', 'open', 'failed', 'ebn', 'run', 'km', '_id', '_t', '_s', '_a', '_tk', '_nb', '_n', '_spec')
      redis.call('HSET', KEYS[g], '_s', 'running', '_tk', ARGV[4 + (g - 1) * 7 + 5], '_lu', '1', '_n', '1', '_sa', '1')
      out[g] = { 6, 0, v[14], 0, '', 1, 0, 0, 'task', 0 } end return out`,
    'batch + begin': overBatch(''),
    'batch + begin + loadWf': overBatch('loadWf(true)'),
  },
  chord: {
    'batch + begin + loadWf': overBatch('', '', 'loadWf(true)'),
    '+ read the record': overBatch('local rec = getNode(id)', '', 'loadWf(true)'),
    '+ the move': overBatch('local rec = getNode(id) takeClaim(id, rec, argv[i + 3], argv[i + 4])', '', 'loadWf(true)'),
    '+ the claimed fields': overBatch('local rec = getNode(id) takeClaim(id, rec, argv[i + 3], argv[i + 4]) claimedFields({}, id, rec)', '', 'loadWf(true)'),
    '+ the write-back': overBatch('local rec = getNode(id) takeClaim(id, rec, argv[i + 3], argv[i + 4]) claimedFields({}, id, rec)', 'finish()', 'loadWf(true)'),
  },
};

const server = await RedisServer.start({ appendonly: false });
const admin = new Redis(server.url);
const store = new RedisStore({ url: server.url, prefix: 'probe' });
try {
  await store.connect();
  const library = buildLibrary();
  const probes = Object.entries(PROBES[mode]).map(([label, body], i) => ({ label, name: `probe_${i}`, body }));
  await admin.function('LOAD', 'REPLACE', library.code + probes.map((p) => `\nredis.register_function('${p.name}', function(KEYS, ARGV)\n${p.body}\nend)`).join(''));
  const runs = [...probes.map((p) => ({ label: p.label, name: p.name })), { label: `the library's claim_many`, name: library.functionName('claim_many') }];
  const cpuSeconds = async (): Promise<number> => {
    const info = await admin.info('cpu');
    return ['user', 'sys'].reduce((sum, kind) => sum + Number(new RegExp(`used_cpu_${kind}:([\\d.]+)`).exec(info)?.[1]), 0);
  };
  /** One call per `perCall` entries: [keys, argv] as claim_many takes them. */
  const prepare = async (): Promise<Array<[string[], string[]]>> => {
    const calls: Array<[string[], string[]]> = [];
    if (mode === 'compact') {
      const graph = storedGraph(sig('a', [1]));
      for (let from = 0; from < total; from += perCall) {
        const ids = Array.from({ length: Math.min(perCall, total - from) }, () => store.mintWorkflowId());
        await Promise.all(ids.map((id) => store.create(id, graph)));
        calls.push([ids.map((id) => store.keys.wf(id)), ['0', '604800000', store.keys.events, ...ids.flatMap((id) => [id, '5', 'n0', '1', 'a', `t-${id}`, '60000'])]]);
      }
    } else {
      const graph = storedGraph(chord(Array.from({ length: total }, (_, i) => sig('a', [i])), sig('b')));
      const id = store.mintWorkflowId();
      await store.create(id, graph);
      for (let from = 0; from < total; from += perCall) {
        const count = Math.min(perCall, total - from);
        const entries = Array.from({ length: count }, (_, k) => [`n${from + k}`, '1', 'a', `t-${from + k}`, '60000']).flat();
        calls.push([[store.keys.wf(id)], ['0', '604800000', store.keys.events, id, String(entries.length), ...entries]]);
      }
    }
    return calls;
  };
  console.log(`${mode}: ${total} entries, ${perCall} per call; redis-server CPU per entry (warm-up round, measured round)`);
  for (const run of runs) {
    const rounds: number[] = [];
    for (let round = 0; round < 2; round++) {
      const calls = await prepare();
      const before = await cpuSeconds();
      for (const [keys, argv] of calls) await admin.call('FCALL', run.name, String(keys.length), ...keys, ...argv);
      rounds.push(((await cpuSeconds()) - before) * 1e6 / total);
      // Every run starts from an empty keyspace (the functions stay): a keyspace that grew run by run would make
      // each later run's key lookups dearer.
      await admin.flushdb();
    }
    console.log(`  ${run.label.padEnd(30)} ${rounds.map((us) => `${us.toFixed(1)} µs`).join(', ')}`);
  }
} finally {
  await store.close();
  admin.disconnect();
  await server.stop();
}
