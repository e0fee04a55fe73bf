/**
 * A claim on Redis answers one of two replies (src/stores/redis/codes.ts claimFrom): the ten-slot form with
 * every claimed field, or the short `{ CLAIMED, already, spec }` when those fields hold their usual values (a
 * compact one-node workflow; a task node without parent input, retries or redeliveries in a workflow without
 * errbacks, lua/advance.lua claimOne). The property below runs random canvases (errbacks, chains that pass
 * input, chords) through successes, retries and failures, a claim re-sent under its token each time, and a
 * replay, on Redis and on the memory store: every claimed node must be the same on both.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { AnyCanvas } from '../../src/canvas/values.js';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';
import type { Store } from '../../src/stores/store.js';
import { Run } from '../contracts/store/harness.js';
import { canvasArb } from '../support/canvas-arb.js';
import { FileRedis } from '../support/file-redis.js';
import { requireRedis } from '../support/services.js';

const redis = await requireRedis();
const files = new FileRedis();

type Outcome = 'ok' | 'retry' | 'fail';

interface Case {
  canvas: AnyCanvas;
  /** The outcome each claimed node draws in turn; all succeed once it is used up. */
  tape: Outcome[];
}

const caseArb: fc.Arbitrary<Case> = fc.record({
  canvas: canvasArb({ maxDepth: 3 }),
  tape: fc.array(fc.constantFrom<Outcome>('ok', 'ok', 'retry', 'fail'), { maxLength: 30 }),
});

/**
 * Runs a case on one store to its settle, replays it and runs it again; answers every claim as it came. Both
 * stores run it under one workflow id (an errback's arguments name the workflow).
 */
async function claims(store: Store, c: Case, workflowId: string): Promise<unknown[]> {
  const run = new Run(store, workflowId);
  await run.create(c.canvas);
  let next = 0;
  const seen: unknown[] = [];
  const drive = async (): Promise<void> => {
    for (let steps = 0; steps < 200; steps++) {
      const open = Object.entries(await run.states()).filter(([, state]) => state === 'queued' || state === 'retrying').map(([id]) => id);
      if (open.length === 0) return;
      for (const id of open) {
        const claim = await run.claim(id);
        const again = await run.tryClaim(id, { token: claim.token });
        assert.ok(again.status === 'claimed' && again.already, `${id}: a re-sent claim answers already`);
        seen.push([id, claim.node, again.node]);
        const outcome = c.tape[next++] ?? 'ok';
        if (outcome === 'retry' && claim.node.retries < 2) await run.retry(id, claim.token, 0);
        else if (outcome === 'fail') await run.fail(id, claim.token);
        else await run.complete(id, claim.token, id);
      }
    }
    throw new Error('not settled after 200 steps');
  };
  await drive();
  const replayed = await run.replay();
  seen.push(replayed.status);
  if (replayed.status === 'ok') await drive();
  return seen;
}

describe('redis store: claim replies', { skip: redis.skip }, () => {
  test('property: every claimed node, short reply or long, is the one the memory store claims', async () => {
    const { store } = await files.open('cl');
    const memory = new MemoryStore();
    files.closeLater(() => memory.close());
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const id = `cr${randomUUID().slice(0, 12)}`;
        const [onRedis, inMemory] = [await claims(store, c, id), await claims(memory, c, id)];
        assert.deepEqual(onRedis, inMemory);
      }),
      { numRuns: 80 },
    );
  });
});
