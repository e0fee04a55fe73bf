/**
 * SlotBatcher sends a create or complete batch the moment it is full, so Redis runs it while the rest of a burst
 * is issued; claims, and batches behind one capped by its arguments, still wait for the tick's end. A recording
 * target stands in for the store's script calls: this is the batcher's order of sending, no server is involved
 * (redis-slot-batch.test.ts runs the batches on Redis).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CODE, type Reply } from '../../src/stores/redis/codes.js';
import { SlotMinter } from '../../src/stores/redis/mint.js';
import { BATCH_LIMITS, SlotBatcher, type BatchTarget } from '../../src/stores/redis/slot-batches.js';

/** What the batcher did, in order: `run <script> <entries>`, `before`, `now`. */
function recordingTarget(log: string[]): BatchTarget {
  return {
    prefix: 'p',
    shared: ['0', '1000', 'events'],
    wfKey: (id) => `{p:${id}}:wf`,
    run: (name, keys): Promise<Reply> => {
      log.push(`run ${name} ${keys.length}`);
      return Promise.resolve(Array.from({ length: keys.length }, () => [CODE.OK]) as unknown as Reply);
    },
    beforeSend: () => log.push('before'),
    push: () => Promise.resolve(),
    sendNow: () => log.push('now'),
  };
}

/** `count` ids minted in one tick: one slot, so one batch per script. */
function ids(count: number): string[] {
  const minter = new SlotMinter('p');
  return Array.from({ length: count }, () => minter.mint());
}

describe('redis store: a full batch leaves at once', () => {
  for (const script of ['create', 'complete'] as const) {
    test(`${script}: the batch that reaches the entry cap is sent before the tick ends; the rest at its end`, async () => {
      const log: string[] = [];
      const batcher = new SlotBatcher(recordingTarget(log));
      const replies = ids(BATCH_LIMITS.entries + 1).map((id) => batcher.add(script, id, ['x']));
      assert.deepEqual(log, ['before', `run ${script}_many ${BATCH_LIMITS.entries}`, 'now'], 'sent within the tick that filled it');
      await Promise.all(replies);
      assert.deepEqual(log.slice(3), ['before', `run ${script} 1`], 'the entry after it leaves at the end of the tick');
    });
  }

  test('claims wait for the end of the tick, full or not (they may ride in a consumer block)', async () => {
    const log: string[] = [];
    const batcher = new SlotBatcher(recordingTarget(log));
    const replies = ids(BATCH_LIMITS.entries + 1).map((id) => batcher.add('claim', id, ['x']));
    assert.deepEqual(log, []);
    await Promise.all(replies);
    assert.deepEqual(log, ['before', `run claim_many ${BATCH_LIMITS.entries}`, `run claim 1`]);
  });

  test('behind a batch capped by its arguments, a full batch waits too, so batches leave in the order they filled', async () => {
    const log: string[] = [];
    const batcher = new SlotBatcher(recordingTarget(log));
    const slot = ids(BATCH_LIMITS.entries); // one slot; the first id is created twice (the second answers EXISTS)
    const big = Array.from({ length: BATCH_LIMITS.args }, () => 'a');
    const replies = [batcher.add('create', slot[0]!, big), ...slot.map((id) => batcher.add('create', id, ['x']))];
    assert.deepEqual(log, [], 'the capped batch is queued, the full one behind it is not sent ahead of it');
    await Promise.all(replies);
    assert.deepEqual(log, ['before', 'run create 1', `run create_many ${BATCH_LIMITS.entries}`]);
  });
});
