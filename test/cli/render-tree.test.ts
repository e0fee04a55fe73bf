/**
 * The list `braid status` prints (src/cli/render/tree.ts): nodes grouped by level with a bracket, and a chord
 * of a size the compiler allows with a raised `maxNodes`, which a spread of its nodes into Math.max would overflow
 * the stack on, and a level array copied per node would take minutes over.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { NodeSnapshot, WorkflowSnapshot } from '../../src/core/snapshot.js';
import { Style } from '../../src/cli/render/style.js';
import { renderTree } from '../../src/cli/render/tree.js';

/** A snapshot of `chord(headers × h, body)` as the store reads one: headers n0.., the body last. */
function chordSnapshot(headers: number): WorkflowSnapshot {
  const node = (id: string, task: string, deps: string[]): NodeSnapshot =>
    ({ id, task, state: 'queued', deps, attempts: 0, args: [], kind: 'task', queue: 'default', redeliveries: 0 });
  const nodes = Array.from({ length: headers }, (_, i) => node(`n${i}`, 'h', []));
  nodes.push(node(`n${headers}`, 'body', nodes.map((n) => n.id)));
  return { id: 'w', state: 'running', createdAt: 0, nodes };
}

describe('braid status: the list of nodes', () => {
  test('a level of several nodes is bracketed, a level of one is not', () => {
    const lines = renderTree(chordSnapshot(3), new Style(false));
    assert.equal(lines.length, 4);
    assert.deepEqual(lines.map((l) => l.slice(2, 4)), ['┌ ', '│ ', '└ ', '  ']);
    assert.match(lines[3]!, /queued\s+body\s+n3/);
  });

  test('a chord of 150,000 headers renders one line per node', () => {
    const lines = renderTree(chordSnapshot(150_000), new Style(false));
    assert.equal(lines.length, 150_001);
    assert.match(lines[150_000]!, /body\s+n150000/);
  });
});
