/**
 * The compiler, case by case: ids, dependencies, input recipes, nesting, empty groups, chord as
 * chain(group, body), option inheritance, errback indexes, caps, and validateGraph on forged graphs.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { chain, chord, group, sig } from '../../src/canvas/builders.js';
import { compile, DEFAULT_MAX_CANVAS_DEPTH, DEFAULT_MAX_NODES } from '../../src/canvas/compile.js';
import type { WorkflowGraph } from '../../src/canvas/graph.js';
import { validateGraph } from '../../src/canvas/validate-graph.js';
import { Chain, Group, Signature, type AnyCanvas } from '../../src/canvas/values.js';
import { CanvasError } from '../../src/core/errors.js';

const s = (task: string, ...args: number[]) => sig(task, args);
const shape = (g: WorkflowGraph) => g.nodes.map((n) => [n.id, n.task, n.deps, n.input]);

describe('compile', () => {
  test('ids are n0, n1, ... in depth-first declaration order, the same on every compile', () => {
    const canvas = chain(s('a'), group(s('b'), chain(s('c'), s('d'))), chord([s('e'), s('f')], s('g')));
    const g = compile(canvas);
    assert.deepEqual(g.nodes.map((n) => `${n.id}:${n.task}`), ['n0:a', 'n1:b', 'n2:c', 'n3:d', 'n4:e', 'n5:f', 'n6:g']);
    assert.deepEqual(compile(canvas), g);
    assert.deepEqual(compile(canvas, { idPrefix: 'n3.' }).nodes.map((n) => n.id), ['n3.0', 'n3.1', 'n3.2', 'n3.3', 'n3.4', 'n3.5', 'n3.6']);
  });

  test('a chain: each step waits for and receives the previous one', () => {
    const g = compile(chain(s('a', 1), s('b', 2), s('c', 3)));
    assert.deepEqual(shape(g), [['n0', 'a', [], null], ['n1', 'b', ['n0'], { node: 'n0' }], ['n2', 'c', ['n1'], { node: 'n1' }]]);
    assert.deepEqual(g.nodes.map((n) => n.args), [[1], [2], [3]]);
    assert.deepEqual(g.result, { node: 'n2' });
    assert.deepEqual(g.done, ['n2']);
  });

  test('a group: members share the parent; the result is the ordered list; a chain member contributes its last', () => {
    const g = compile(chain(s('a'), group(s('b'), chain(s('c'), s('d')), group(s('e'), s('f'))), s('z')));
    assert.deepEqual(shape(g), [
      ['n0', 'a', [], null],
      ['n1', 'b', ['n0'], { node: 'n0' }],
      ['n2', 'c', ['n0'], { node: 'n0' }],
      ['n3', 'd', ['n2'], { node: 'n2' }],
      ['n4', 'e', ['n0'], { node: 'n0' }],
      ['n5', 'f', ['n0'], { node: 'n0' }],
      ['n6', 'z', ['n1', 'n3', 'n4', 'n5'], { list: [{ node: 'n1' }, { node: 'n3' }, { list: [{ node: 'n4' }, { node: 'n5' }] }] }],
    ]);
  });

  test('nested groups stay nested in the workflow result', () => {
    const g = compile(group(s('a'), group(s('b'), group(s('c'))), group()));
    assert.deepEqual(g.result, { list: [{ node: 'n0' }, { list: [{ node: 'n1' }, { list: [{ node: 'n2' }] }] }, { list: [] }] });
    assert.deepEqual(g.done, ['n0', 'n1', 'n2']);
  });

  test('immutable steps wait for the parent without receiving it', () => {
    const g = compile(chain(s('a'), sig('b', [1], { immutable: true }), group(sig('c', [], { immutable: true }), s('d'))));
    assert.deepEqual(shape(g), [['n0', 'a', [], null], ['n1', 'b', ['n0'], null], ['n2', 'c', ['n1'], null], ['n3', 'd', ['n1'], { node: 'n1' }]]);
  });

  test('empty groups and headers give [] and pass dependencies through', () => {
    assert.deepEqual(compile(group()), { nodes: [], result: { list: [] }, done: [], errbacks: [] });
    const g = compile(chain(s('a'), group(), s('b'), chord([], s('c')), group(group(), group())));
    assert.deepEqual(shape(g), [['n0', 'a', [], null], ['n1', 'b', ['n0'], { list: [] }], ['n2', 'c', ['n1'], { list: [] }]]);
    assert.deepEqual(g.result, { list: [{ list: [] }, { list: [] }] });
    assert.deepEqual(g.done, ['n2']);
    const first = compile(chain(group(), s('x')));
    assert.deepEqual(shape(first), [['n0', 'x', [], { list: [] }]]);
  });

  test('chord(header, body) compiles exactly like chain(group(header), body)', () => {
    const header = [s('a'), chain(s('b'), s('c')), group(s('d'), s('e'))];
    const body = chain(s('f'), group(s('g'), s('h')));
    assert.deepEqual(compile(chord(header, body)), compile(chain(group(header), body)));
    assert.deepEqual(compile(chord(group(header), body)), compile(chain(group(header), body)));
    assert.deepEqual(compile(chain(s('p'), chord([], s('q')))), compile(chain(s('p'), group(), s('q'))));
  });

  test('a dependency is listed once even when a group reaches it twice', () => {
    const g = compile(chain(s('a'), group(group(), group()), s('b')));
    assert.deepEqual(g.nodes[1]!.deps, ['n0']);
  });

  test('options are inherited, the innermost winning', () => {
    const inner = s('a').set({ queue: 'inner', maxRetries: 1 });
    const g = compile(chain(inner, group(s('b'), s('c').set({ priority: 2 })).set({ queue: 'mid', countdownMs: 5 })).set({ queue: 'outer', maxRetries: 9, ignoreResult: true }));
    assert.deepEqual(g.nodes.map((n) => n.options), [
      { queue: 'inner', maxRetries: 1, ignoreResult: true },
      { queue: 'mid', maxRetries: 9, ignoreResult: true, countdownMs: 5 },
      { queue: 'mid', maxRetries: 9, ignoreResult: true, countdownMs: 5, priority: 2 },
    ]);
    assert.deepEqual(compile(sig('a', [], { queue: 'q', autoretryFor: [TypeError, 'Custom'] })).nodes[0]!.options, { queue: 'q', autoretryFor: ['TypeError', 'Custom'] });
  });

  test('errbacks get indexes in compile order; each node lists those covering it, innermost first', () => {
    const canvas = chain(s('a').onError(sig('e1', [1])), group(s('b'), s('c')).onError(sig('e2', [], { immutable: true }))).onError(sig('e3'));
    const g = compile(canvas);
    assert.deepEqual(g.errbacks.map((e) => [e.task, e.args, e.immutable]), [['e3', [], false], ['e1', [1], false], ['e2', [], true]]);
    assert.deepEqual(g.nodes.map((n) => n.errbacks), [[1, 0], [2, 0], [2, 0]]);
    const twice = compile(s('a').onError(sig('x')).onError(sig('y')));
    assert.deepEqual(twice.nodes[0]!.errbacks, [0, 1]);
    const fragment = compile(chain(s('f'), s('g').onError(sig('e4'))), { idPrefix: 'n1.', inheritedErrbacks: [0, 2], errbackBase: 3 });
    assert.deepEqual(fragment.nodes.map((n) => [n.id, n.errbacks]), [['n1.0', [0, 2]], ['n1.1', [3, 0, 2]]]);
    assert.equal(fragment.errbacks.length, 1);
  });

  test('more than 100,000 nodes is a CanvasError; exactly the cap compiles', () => {
    assert.equal(DEFAULT_MAX_NODES, 100_000);
    const members = Array.from({ length: DEFAULT_MAX_NODES }, (_, i) => new Signature('t', [i], false));
    assert.equal(compile(new Group(members)).nodes.length, DEFAULT_MAX_NODES);
    assert.throws(() => compile(new Group([...members, new Signature('t', [], false)])), CanvasError);
    assert.throws(() => compile(group(s('a'), s('b'), s('c')), { maxNodes: 2 }), CanvasError);
  });

  test('deeper than 1,000 levels is a CanvasError, never a stack overflow', () => {
    assert.equal(DEFAULT_MAX_CANVAS_DEPTH, 1_000);
    const nest = (levels: number): AnyCanvas => {
      let c: AnyCanvas = s('leaf');
      for (let i = 0; i < levels; i++) c = new Chain([c]);
      return c;
    };
    assert.equal(compile(nest(1_000)).nodes.length, 1);
    assert.throws(() => compile(nest(1_001)), CanvasError);
    assert.throws(() => compile(nest(10_000)), CanvasError);
    assert.throws(() => compile(nest(5), { maxDepth: 4 }), CanvasError);
  });

  test('canvas constructors refuse values that are not canvases', () => {
    assert.throws(() => new Chain([s('a'), {} as AnyCanvas]), CanvasError);
    assert.throws(() => group(s('a'), null as unknown as AnyCanvas), CanvasError);
  });

  test('compile of a value that is not a canvas is a CanvasError', () => {
    assert.throws(() => compile({} as AnyCanvas), CanvasError);
  });
});

describe('validateGraph', () => {
  const good = () => structuredClone(compile(chain(s('a'), group(s('b'), s('c')), s('d'))));

  test('accepts what compile produces, and fragments after the nodes they follow', () => {
    validateGraph(good());
    validateGraph(compile(chain(s('x'), s('y')), { idPrefix: 'n3.' }), new Set(['n0', 'n1', 'n2', 'n3']));
  });

  test('rejects forged graphs', () => {
    const forgeries: Array<[string, (g: WorkflowGraph) => void]> = [
      ['duplicate id', (g) => { g.nodes[2]!.id = 'n1'; }],
      ['non-string id', (g) => { (g.nodes[0] as { id: unknown }).id = 7; }],
      ['dependency declared later (cycle)', (g) => { g.nodes[0]!.deps = ['n3']; }],
      ['self dependency', (g) => { g.nodes[1]!.deps = ['n1']; }],
      ['unknown dependency', (g) => { g.nodes[1]!.deps = ['zz']; }],
      ['input reads a node it does not wait for', (g) => { g.nodes[3]!.deps = ['n1']; }],
      ['input reads an unknown node', (g) => { g.nodes[1]!.input = { node: 'nx' }; }],
      ['negative errback index', (g) => { g.nodes[0]!.errbacks = [-1]; }],
      ['fractional errback index', (g) => { g.nodes[0]!.errbacks = [0.5]; }],
      ['result reads an unknown node', (g) => { g.result = { list: [{ node: 'n9' }] }; }],
    ];
    for (const [what, forge] of forgeries) {
      const g = good();
      forge(g);
      assert.throws(() => validateGraph(g), CanvasError, what);
    }
  });

  test('a fragment may not reuse the ids of the workflow it joins', () => {
    assert.throws(() => validateGraph(compile(s('x')), new Set(['n0'])), CanvasError);
  });
});
