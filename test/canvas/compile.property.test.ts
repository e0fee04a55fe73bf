/**
 * The compiler against the reference evaluator, on random canvases: compile is deterministic and plain
 * JSON, the graph is topological, and running the graph's recipes in dependency order with a pure task
 * function ends exactly as evaluateReference says (results, node states, failed and blocked sets, errbacks).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { compile } from '../../src/canvas/compile.js';
import { buildFromRecipe, recipeNodes, type WorkflowGraph } from '../../src/canvas/graph.js';
import { evaluateReference, type ReferenceOutcome } from '../../src/canvas/reference.js';
import { validateGraph } from '../../src/canvas/validate-graph.js';
import type { JsonValue } from '../../src/core/json.js';
import { canvasArb, world } from '../support/canvas-arb.js';

type Run = (task: string, args: JsonValue[], nodeId: string) => ReferenceOutcome;

/** Runs a graph node by node in declaration order, building each input from its recipe. */
function evaluateGraph(g: WorkflowGraph, run: Run) {
  const nodes = new Map<string, { task: string; state: 'succeeded' | 'failed' | 'blocked'; args: JsonValue[]; result?: JsonValue }>();
  const read = (id: string): JsonValue => {
    const n = nodes.get(id);
    assert.ok(n && n.state === 'succeeded', `recipe reads ${id} before it succeeded`);
    return n.result!;
  };
  for (const n of g.nodes) {
    if (n.deps.some((d) => nodes.get(d)?.state !== 'succeeded')) {
      nodes.set(n.id, { task: n.task, state: 'blocked', args: n.args });
      continue;
    }
    const callArgs = n.input ? [buildFromRecipe(n.input, read), ...n.args] : [...n.args];
    const out = run(n.task, callArgs, n.id);
    nodes.set(n.id, 'ok' in out ? { task: n.task, state: 'succeeded', args: n.args, result: out.ok } : { task: n.task, state: 'failed', args: n.args });
  }
  const failed = [...nodes.values()].some((n) => n.state === 'failed');
  const errbacksFired = g.errbacks.map((_, i) => g.nodes.some((n) => nodes.get(n.id)!.state === 'failed' && n.errbacks.includes(i)));
  return { state: failed ? 'failed' : 'succeeded', nodes, errbacksFired, ...(failed ? {} : { result: buildFromRecipe(g.result, read) }) };
}

const failingArb = fc.uniqueArray(fc.nat(30), { maxLength: 4 }).map((ids) => new Set(ids.map((i) => `n${i}`)));

test('compile is deterministic and its graph is plain JSON', () => {
  fc.assert(fc.property(canvasArb(), (canvas) => {
    const g = compile(canvas);
    assert.deepEqual(compile(canvas), g);
    assert.deepEqual(JSON.parse(JSON.stringify(g)), g);
  }), { numRuns: 300 });
});

test('the graph is topological: ids in order, every dependency and every recipe read declared before', () => {
  fc.assert(fc.property(canvasArb(), (canvas) => {
    const g = compile(canvas);
    validateGraph(g);
    const index = new Map(g.nodes.map((n, i) => [n.id, i]));
    g.nodes.forEach((n, i) => {
      assert.equal(n.id, `n${i}`);
      for (const d of n.deps) assert.ok(index.get(d)! < i);
      assert.equal(new Set(n.deps).size, n.deps.length, 'no dependency twice');
      if (n.input) for (const id of recipeNodes(n.input)) assert.ok(n.deps.includes(id));
    });
    for (const id of g.done) assert.ok(index.has(id));
  }), { numRuns: 300 });
});

test('every node of the result recipe finishes the canvas: result nodes are done nodes or precede them', () => {
  fc.assert(fc.property(canvasArb(), (canvas) => {
    const g = compile(canvas);
    // whoever waits for `done` can read the result: every node the result reads is done or upstream of a done node
    const upstream = new Set<string>(g.done);
    for (let i = g.nodes.length - 1; i >= 0; i--) {
      const n = g.nodes[i]!;
      if (upstream.has(n.id)) for (const d of n.deps) upstream.add(d);
    }
    for (const id of recipeNodes(g.result)) assert.ok(upstream.has(id), `result reads ${id}, which done does not cover`);
  }), { numRuns: 300 });
});

test('evaluating the graph gives the reference result, node states and errbacks', () => {
  fc.assert(fc.property(canvasArb(), failingArb, (canvas, failing) => {
    const run = world(failing);
    const want = evaluateReference(canvas, run);
    const got = evaluateGraph(compile(canvas), run);
    assert.equal(got.state, want.state);
    assert.deepEqual(got.result, want.result);
    assert.deepEqual([...got.nodes.entries()], [...want.nodes.entries()]);
    assert.deepEqual(got.errbacksFired, want.errbacksFired);
  }), { numRuns: 500 });
});

test('failures: the same failed and blocked sets as the reference', () => {
  fc.assert(fc.property(canvasArb({ errbacks: false, options: false }), fc.double({ min: 0, max: 1, noNaN: true }), (canvas, rate) => {
    const count = compile(canvas).nodes.length;
    const failing = new Set(Array.from({ length: count }, (_, i) => `n${i}`).filter((_, i) => ((i * 7919) % 100) / 100 < rate));
    const run = world(failing);
    const want = evaluateReference(canvas, run);
    const got = evaluateGraph(compile(canvas), run);
    const ids = (m: Map<string, { state: string }>, state: string) => [...m].filter(([, n]) => n.state === state).map(([id]) => id);
    for (const state of ['failed', 'blocked', 'succeeded']) assert.deepEqual(ids(got.nodes, state), ids(want.nodes, state), state);
    assert.equal(got.state, failing.size > 0 ? 'failed' : 'succeeded');
  }), { numRuns: 300 });
});
