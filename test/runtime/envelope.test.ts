/**
 * src/runtime/envelope.ts and envelope-bytes.ts: a body is exactly the UTF-8 of `JSON.stringify` of the
 * envelope, whether its fields are plain ASCII (written byte by byte) or not (quotes, backslashes, control
 * characters, unicode, odd attempts), and a valid one decodes back to itself.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ENVELOPE_VERSION, decodeEnvelope, encodeEnvelope } from '../../src/runtime/envelope.js';
import { rootMessages } from '../../src/runtime/step/create.js';
import type { NodeSpec, StoredGraph } from '../../src/stores/store.js';

type Fields = { workflowId: string; nodeId: string; attempt: number; task: string };

function reference(e: Fields): Buffer {
  return Buffer.from(JSON.stringify({ v: ENVELOPE_VERSION, workflowId: e.workflowId, nodeId: e.nodeId, attempt: e.attempt, task: e.task }));
}

const fieldText = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9._:-]{0,40}$/),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.string({ unit: fc.constantFrom('"', '\\', '\n', '\u0000', '\u007f', 'é', '\u2028', '😀', 'a'), maxLength: 6 }),
);
const attemptArb = fc.oneof(fc.integer({ min: 1, max: 20 }), fc.integer({ min: -3, max: Number.MAX_SAFE_INTEGER }),
  fc.constantFrom(0, 1.5, 2 ** 60, Number.NaN, Infinity, -0, 10, 100, 1_000_000));

describe('encodeEnvelope', () => {
  test('the bytes of JSON.stringify, for drawn fields', () => {
    fc.assert(fc.property(fieldText, fieldText, attemptArb, fieldText, (workflowId, nodeId, attempt, task) => {
      const e = { workflowId, nodeId, attempt, task };
      assert.ok(encodeEnvelope(e).equals(reference(e)), JSON.stringify(e));
    }), { numRuns: 3_000 });
  });

  test('a valid envelope decodes back to itself', () => {
    const e = { workflowId: 'AAAAAAAAAAAAAAAAAAAAAAAA', nodeId: 'n12.3', attempt: 123, task: 'docs.count' };
    const decoded = decodeEnvelope(encodeEnvelope(e), 1024);
    assert.deepEqual(decoded, { envelope: { v: ENVELOPE_VERSION, ...e } });
  });
});

describe('rootMessages', () => {
  test('one message per node without dependencies, in order, priority only when set', () => {
    const node = (id: string, deps: string[], priority?: number): NodeSpec => ({
      id, task: `t.${id}`, args: [], options: {}, deps, input: null, errbacks: [],
      dispatch: { queue: 'q', countdownMs: 7, maxRedeliveries: 2, ...(priority === undefined ? {} : { priority }) },
    });
    const graph: StoredGraph = { nodes: [node('a', []), node('b', ['a']), node('c', [], 4)], result: { node: 'b' }, done: ['b'], errbacks: [] };
    const messages = rootMessages('W', graph);
    assert.deepEqual(messages, [
      { workflowId: 'W', nodeId: 'a', task: 't.a', attempt: 1, queue: 'q', delayMs: 7 },
      { workflowId: 'W', nodeId: 'c', task: 't.c', attempt: 1, queue: 'q', priority: 4, delayMs: 7 },
    ]);
    assert.equal('priority' in messages[0]!, false);
  });
});
