/**
 * The store contract against the memory store (its real clock for most tests, a fake one where a test asks),
 * plus what is particular to it: retention of settled workflows and copies that share nothing with callers.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sig } from '../../src/canvas/builders.js';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';
import { storeContract } from '../contracts/store.contract.js';
import { Run, storedGraph } from '../contracts/store/harness.js';
import { memoryStoreFactory } from '../support/memory-factory.js';

storeContract('memory', memoryStoreFactory);

describe('memory store', () => {
  test('a settled workflow is dropped by the first sweep after retentionMs, a running one never', async () => {
    let now = 1_000;
    const store = new MemoryStore({ clock: () => now, retentionMs: 100 });
    const done = new Run(store);
    await done.create(sig('a'));
    await done.run('n0', 1);
    const open = new Run(store);
    await open.create(sig('b'));
    now += 99;
    await store.sweep({ republishAfterMs: 1_000_000 });
    assert.notEqual(await store.snapshot(done.id), null);
    now += 1;
    await store.sweep({ republishAfterMs: 1_000_000 });
    assert.equal(await store.snapshot(done.id), null);
    assert.equal(await store.outcome(done.id), null);
    now += 1_000_000;
    await store.sweep({ republishAfterMs: 1e12 });
    assert.equal((await open.snapshot()).state, 'running');
    assert.equal((await open.node('n0')).state, 'queued');
  });

  test('stored graphs and snapshots share nothing with the caller', async () => {
    const store = new MemoryStore();
    const graph = storedGraph(sig('a', [{ k: 1 }]));
    const run = new Run(store);
    await run.create(graph);
    (graph.nodes[0]!.args[0] as { k: number }).k = 2;
    const snap = await run.snapshot();
    assert.deepEqual(snap.nodes[0]!.args, [{ k: 1 }]);
    (snap.nodes[0]!.args[0] as { k: number }).k = 3;
    assert.deepEqual((await run.claim('n0')).node.args, [{ k: 1 }]);
  });
});
