/**
 * Slot-steered workflow ids (src/stores/redis/mint.ts): every id minted in one tick, up to the group size, has a
 * hash tag in the group's cluster slot (as `cluster-key-slot` computes it), a new group picks a new slot, and
 * every id is a valid, unique workflow id. No server needed.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { isWorkflowId } from '../../src/stores/redis/keys.js';
import { MINT_GROUP_SIZE, SlotMinter, steer } from '../../src/stores/redis/mint.js';
import { RedisStore } from '../../src/stores/redis/redis-store.js';
import { prefixCrc, SLOT_COUNT, slotAfter, workflowSlot } from '../../src/stores/redis/slot.js';

const keySlot = createRequire(import.meta.url)('cluster-key-slot') as (key: string) => number;
const prefixArb = fc.stringMatching(/^[A-Za-z0-9._:-]{1,64}$/);

/** Mints `count` ids in this tick; returns them with the slot of the group each joined. */
function mintTick(minter: SlotMinter, count: number): Array<{ id: string; slot: number }> {
  return Array.from({ length: count }, () => {
    const id = minter.mint();
    return { id, slot: minter.slot! };
  });
}

const nextTick = (): Promise<void> => new Promise((resolve) => process.nextTick(resolve));

describe('slot-steered workflow ids', () => {
  test('valid, unique, and in their group slot as cluster-key-slot computes it', async () => {
    await fc.assert(fc.asyncProperty(prefixArb, fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 3 }), async (prefix, ticks) => {
      const minter = new SlotMinter(prefix);
      const all = new Set<string>();
      for (const count of ticks) {
        const minted = mintTick(minter, count);
        for (const [i, { id, slot }] of minted.entries()) {
          assert.ok(isWorkflowId(id), `invalid id ${id}`);
          assert.ok(!all.has(id), `duplicate id ${id}`);
          all.add(id);
          assert.equal(keySlot(`{${prefix}:${id}}:wf`), slot);
          assert.equal(workflowSlot(prefix, id), slot);
          // A group holds MINT_GROUP_SIZE ids, then the next id opens a new group.
          if (i % MINT_GROUP_SIZE !== 0) assert.equal(slot, minted[i - 1]!.slot);
        }
        await nextTick();
        assert.equal(minter.slot, undefined, 'a new tick starts a new group');
      }
    }), { numRuns: 60 });
  });

  test('workflowSlot agrees with cluster-key-slot on any valid prefix and id', () => {
    fc.assert(fc.property(prefixArb, fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/), (prefix, id) => {
      assert.equal(workflowSlot(prefix, id), keySlot(`{${prefix}:${id}}`));
    }), { numRuns: 2_000 });
  });

  test('slotAfter(prefixCrc(prefix), id) is workflowSlot(prefix, id) on any valid prefix and ids', () => {
    fc.assert(fc.property(prefixArb, fc.array(fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/), { minLength: 1, maxLength: 8 }), (prefix, ids) => {
      const crc = prefixCrc(prefix); // once per prefix, as a store does
      for (const id of ids) assert.equal(slotAfter(crc, id), workflowSlot(prefix, id));
    }), { numRuns: 2_000 });
  });

  test('steer reaches every one of the 16,384 slots, as cluster-key-slot computes them', () => {
    const crc = prefixCrc('braid');
    for (const random of ['AAAAAAAAAAAAAAAA', 'z9-_Qx0aPq7LmN3c']) {
      for (let slot = 0; slot < SLOT_COUNT; slot++) assert.equal(keySlot(`{braid:${steer(crc, random, slot)}}`), slot);
    }
  });

  test('groups of later ticks and full groups pick fresh random slots (a cluster spreads the load)', async () => {
    const minter = new SlotMinter('braid');
    const slots = new Set<number>();
    for (let tick = 0; tick < 20; tick++) {
      for (const { slot } of mintTick(minter, MINT_GROUP_SIZE * 2)) slots.add(slot);
      await nextTick();
    }
    assert.ok(slots.size >= 30, `only ${slots.size} distinct slots over 40 groups`);
  });

  test('RedisStore.mintWorkflowId mints steered ids without a connection', () => {
    const store = new RedisStore({ url: 'redis://127.0.0.1:1', prefix: 'p' });
    const ids = [store.mintWorkflowId(), store.mintWorkflowId()];
    assert.equal(workflowSlot('p', ids[0]!), workflowSlot('p', ids[1]!));
    assert.notEqual(ids[0], ids[1]);
  });
});
