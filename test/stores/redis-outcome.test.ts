/**
 * The outcome of a failed workflow on Redis (src/stores/redis/reads.ts readOutcome): its failures come from the
 * records of the nodes with an error only, never from every record; a replay that lands between the reads is
 * noticed (the workflow's run changed) and the outcome is read again, so it never mixes two runs.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { chord, sig } from '../../src/canvas/builders.js';
import { readOutcome } from '../../src/stores/redis/reads.js';
import { Run } from '../contracts/store/harness.js';
import { FileRedis } from '../support/file-redis.js';
import { monitor, until } from '../support/redis-monitor.js';
import { requireRedis } from '../support/services.js';

const redis = await requireRedis();
const files = new FileRedis();

describe('redis store: the outcome of a failed workflow', { skip: redis.skip }, () => {
  test('reads the records of the failed nodes only, in creation order', async () => {
    const { store } = await files.open('oc');
    const run = new Run(store);
    await run.create(chord([sig('a', [0]), sig('a', [1]), sig('a', [2]), sig('a', [3])], sig('body')));
    await run.run('n0', 0);
    await run.runFail('n3');
    await run.run('n2', 2);
    await run.runFail('n1');
    const seen = await monitor(await files.url());
    const outcome = await store.outcome(run.id);
    const nodeKey = store.keys.key(run.id, 'node');
    // MONITOR's stream lags the replies: wait until it shows the read of the records before stopping it.
    await until(seen.seen, (s) => s.args[1] === nodeKey);
    seen.stop();
    assert.deepEqual([outcome?.state, outcome?.failures.map((f) => f.nodeId)], ['failed', ['n1', 'n3']]);
    const onNodes = seen.seen.filter((s) => s.args[1] === nodeKey).map((s) => [s.args[0]!.toUpperCase(), ...s.args.slice(1)]);
    assert.deepEqual(onNodes, [['HMGET', nodeKey, 'n1', 'n3']], 'no HGETALL of every record');
  });

  test('reads many failed records in chunks, in creation order', async () => {
    const { store, raw } = await files.open('ok');
    const run = new Run(store);
    await run.create(chord(Array.from({ length: 7 }, (_, i) => sig('a', [i])), sig('body')));
    for (const i of [6, 0, 3, 5, 1]) await run.runFail(`n${i}`);
    for (const i of [2, 4]) await run.run(`n${i}`, i);
    const outcome = await readOutcome(raw, store.keys, run.id, 2);
    assert.deepEqual(outcome?.failures.map((f) => [f.nodeId, f.task]), [['n0', 'a'], ['n1', 'a'], ['n3', 'a'], ['n5', 'a'], ['n6', 'a']]);
    assert.deepEqual(outcome, await store.outcome(run.id), 'the same as in one read');
  });

  test('a replay between its reads makes it read again: the failures are those of one run', async () => {
    const { store } = await files.open('or');
    const run = new Run(store);
    await run.create(chord([sig('a', [0]), sig('a', [1])], sig('body')));
    await run.runFail('n0');
    await run.run('n1', 1);
    // The workflow is replayed right after the outcome's first MULTI: this time n0 succeeds and the body fails.
    const client = new Redis(await files.url());
    files.closeLater(() => client.disconnect());
    let interfered = false;
    const multi = client.multi.bind(client);
    client.multi = ((...args: Parameters<Redis['multi']>) => {
      const m = multi(...args);
      const exec = m.exec.bind(m);
      m.exec = (async () => {
        const replies = await exec();
        if (!interfered) {
          interfered = true;
          assert.equal((await run.replay()).status, 'ok');
          await run.run('n0', 0);
          await run.runFail('n2');
        }
        return replies;
      }) as typeof m.exec;
      return m;
    }) as Redis['multi'];
    const outcome = await readOutcome(client, store.keys, run.id);
    assert.equal(interfered, true);
    assert.deepEqual([outcome?.state, outcome?.failures.map((f) => f.nodeId)], ['failed', ['n2']]);
  });
});
