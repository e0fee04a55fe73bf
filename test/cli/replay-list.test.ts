/**
 * The line `braid replay` prints: every replayed node of a small replay, the first ten and a count of the rest of
 * a large one (a canceled chord of thousands replays them all).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LISTED_NODES, nodeList } from '../../src/cli/commands/replay.js';
import type { NodeSnapshot } from '../../src/core/snapshot.js';

function nodes(count: number): NodeSnapshot[] {
  return Array.from({ length: count }, (_, i) => ({ id: `n${i}`, task: i % 2 === 0 ? 'even' : 'odd', kind: 'task', state: 'canceled', attempts: 0 }) as NodeSnapshot);
}

describe('braid replay: the list of replayed nodes', () => {
  test('a few are all named, with their tasks', () => {
    assert.equal(nodeList(['n1', 'n2'], nodes(3)), 'n1 (odd), n2 (even)');
    assert.equal(nodeList(['x9'], nodes(3)), 'x9 (?)', 'a node the snapshot before did not have');
  });

  test('past ten, the first ten and a count of the others', () => {
    const all = nodes(20_001);
    const line = nodeList(all.map((n) => n.id), all);
    assert.equal(LISTED_NODES, 10);
    assert.match(line, /^n0 \(even\), n1 \(odd\), .*, n9 \(odd\) and 19,991 more$/);
    assert.equal(line.split(', ').length, 10);
  });
});
