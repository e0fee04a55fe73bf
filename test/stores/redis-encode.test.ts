/**
 * src/stores/redis/encode.ts and spec-text.ts: the ARGV of create and replace is exactly what the plain encoding
 * gives (every spec its stored form, {@link referenceSpecText}, which reads back as the spec; every record `initialRecord(spec)` with its one dependent if it has
 * one, other dependents found by walking the nodes in order), for compiled canvases with shared and unshared dispatches and for drawn specs with unicode,
 * odd keys, shared parts, duplicate ids, dependencies outside the graph and keys in another order. No server.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { chain, chord, sig } from '../../src/canvas/builders.js';
import type { Recipe } from '../../src/canvas/graph.js';
import type { JsonValue } from '../../src/core/json.js';
import { DEFAULT_LIMITS } from '../../src/runtime/limits.js';
import { buildStoredGraph } from '../../src/runtime/fragment.js';
import { TaskRegistry } from '../../src/runtime/registry.js';
import { createArgs, initialRecord, recipeTokens, replaceArgs } from '../../src/stores/redis/encode.js';
import { parseSpecText } from '../../src/stores/redis/spec-text.js';
import { SerializationError } from '../../src/core/errors.js';
import type { Dispatch, NodeSpec, StoredGraph } from '../../src/stores/store.js';
import { canvasArb } from '../support/canvas-arb.js';
import { storedGraph } from '../contracts/store/harness.js';

/**
 * A spec's stored text, plainly: a spec of the usual shape without its id, its task and each part at its stored
 * default; any other shape whole.
 */
function referenceSpecText(spec: NodeSpec): string {
  if (Object.keys(spec).join() !== 'id,task,args,options,deps,input,errbacks,dispatch') return JSON.stringify(spec);
  const stored: Record<string, unknown> = { args: spec.args };
  if (JSON.stringify(spec.options) !== '{}') stored.options = spec.options;
  if (spec.deps.length > 0) stored.deps = spec.deps;
  if (spec.input !== null) stored.input = spec.input;
  if (spec.errbacks.length > 0) stored.errbacks = spec.errbacks;
  if (JSON.stringify(spec.dispatch) !== '{"queue":"default","countdownMs":0,"maxRedeliveries":5}') stored.dispatch = spec.dispatch;
  return JSON.stringify(stored);
}

/** The per-node slots as the plain encoding writes them: each part stringified on its own. */
function referenceNodes(graph: StoredGraph, replacing: string | undefined, rootCountdowns: boolean): { nodes: string[]; outside: Map<string, string[]> } {
  const outside = new Map<string, string[]>();
  const next = new Map<string, string[]>();
  const inGraph = new Set(graph.nodes.map((n) => n.id));
  const seen = new Set<string>();
  for (const spec of graph.nodes) {
    seen.add(spec.id);
    for (const dep of spec.deps) {
      const into = seen.has(dep) ? next : inGraph.has(dep) ? undefined : outside;
      if (!into) continue;
      into.set(dep, [...(into.get(dep) ?? []), spec.id]);
    }
  }
  const nodes: string[] = [];
  for (const spec of graph.nodes) {
    const root = spec.deps.length === 0;
    const dependents = graph.nodes.length > 1 || replacing !== undefined ? next.get(spec.id) : undefined;
    // One dependent goes in the record, more in the dependents slot.
    const one = dependents?.length === 1 ? dependents[0] : undefined;
    nodes.push(
      spec.id, referenceSpecText(spec), initialRecord(spec, replacing, undefined, one),
      root ? '' : JSON.stringify(spec.deps), dependents && one === undefined ? JSON.stringify(dependents) : '',
      spec.input ? JSON.stringify(recipeTokens(spec.input)) : '',
    );
    if (rootCountdowns) nodes.push(root ? String(spec.dispatch.countdownMs) : '');
  }
  return { nodes, outside };
}

/** Whether JSON `text` has a `__proto__` key anywhere. */
function hasProtoKey(text: string): boolean {
  let found = false;
  JSON.parse(text, (key, value: unknown) => {
    if (key === '__proto__') found = true;
    return value;
  });
  return found;
}

function errbackSlots(graph: StoredGraph): string[] {
  return graph.errbacks.flatMap((e) => {
    const d = e.dispatch;
    const route: Record<string, unknown> = { t: e.task, imm: e.immutable, qu: d.queue, c: d.countdownMs, m: d.maxRedeliveries };
    if (d.priority !== undefined) route.p = d.priority;
    return [JSON.stringify(route), JSON.stringify(e.args), JSON.stringify(e.options), JSON.stringify(d)];
  });
}

function referenceCreateArgs(graph: StoredGraph): string[] {
  return ['1', JSON.stringify(recipeTokens(graph.result)), String(graph.nodes.length), String(graph.errbacks.length),
    ...referenceNodes(graph, undefined, true).nodes, ...errbackSlots(graph)];
}

function referenceReplaceArgs(graph: StoredGraph, nodeId: string): string[] {
  const { nodes, outside } = referenceNodes(graph, nodeId, false);
  return [JSON.stringify(recipeTokens(graph.result)), JSON.stringify(graph.done), String(graph.nodes.length),
    String(graph.errbacks.length), String(outside.size), ...nodes, ...errbackSlots(graph),
    ...[...outside].flatMap(([dep, ids]) => [dep, JSON.stringify(ids)])];
}

function assertEncodesAsReference(graph: StoredGraph): void {
  assert.deepEqual(createArgs(graph, ['1']), referenceCreateArgs(graph));
  assert.deepEqual(replaceArgs(graph, 'n0'), referenceReplaceArgs(graph, 'n0'));
}

function registry(): TaskRegistry {
  const r = new TaskRegistry({}, { 't.c': { queue: 'qc', priority: 3 } });
  for (const name of ['t.a', 't.b', 't.c', 'eb.a', 'eb.b']) r.add({ name, handler: () => 0, options: name === 't.b' ? { countdownMs: 5 } : {} });
  return r;
}

const text = fc.string({ unit: 'binary', maxLength: 6 });
const oddKey = fc.oneof(text, fc.constantFrom('__proto__', 'constructor', '', '"', '\\', '\u2028', 'é', '😀'));
const jsonArb: fc.Arbitrary<JsonValue> = fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<JsonValue>;
const recipeArb: fc.Arbitrary<Recipe> = fc.letrec<{ recipe: Recipe }>((tie) => ({
  recipe: fc.oneof({ depthSize: 'small' }, text.map((node) => ({ node })), fc.array(tie('recipe'), { maxLength: 3 }).map((list) => ({ list }))),
})).recipe;
const dispatchArb: fc.Arbitrary<Dispatch> = fc.record({
  queue: text, countdownMs: fc.nat(1_000), maxRedeliveries: fc.nat(9), priority: fc.integer({ min: 0, max: 9 }),
}, { requiredKeys: ['queue', 'countdownMs', 'maxRedeliveries'] });

/**
 * Drawn graphs: parts come from small pools so that consecutive nodes often share them (the encoder reuses the
 * text of shared parts) and often do not; some specs have their keys in another order or an extra key.
 */
const drawnGraphArb: fc.Arbitrary<StoredGraph> = fc.record({
  ids: fc.array(fc.oneof(text, fc.constantFrom('n0', 'n1', 'n2')), { minLength: 1, maxLength: 8 }),
  tasks: fc.array(text, { minLength: 1, maxLength: 3 }),
  options: fc.array(fc.dictionary(oddKey, jsonArb, { maxKeys: 3 }), { minLength: 1, maxLength: 3 }),
  inputs: fc.array(fc.option(recipeArb, { freq: 2 }), { minLength: 1, maxLength: 3 }),
  errbacks: fc.array(fc.array(fc.nat(3), { maxLength: 2 }), { minLength: 1, maxLength: 2 }),
  dispatches: fc.array(dispatchArb, { minLength: 1, maxLength: 2 }),
  picks: fc.array(fc.record({
    task: fc.nat(), args: fc.array(jsonArb, { maxLength: 3 }), options: fc.nat(), deps: fc.array(fc.oneof(fc.nat(), text), { maxLength: 3 }),
    input: fc.nat(), errbacks: fc.nat(), dispatch: fc.nat(), shape: fc.constantFrom('plain', 'plain', 'plain', 'reordered', 'extra'),
  }), { minLength: 8, maxLength: 8 }),
}).map(({ ids, tasks, options, inputs, errbacks, dispatches, picks }) => {
  const nodes = ids.map((id, i): NodeSpec => {
    const p = picks[i]!;
    const pick = <T>(pool: readonly T[], at: number): T => pool[at % pool.length]!;
    const spec: NodeSpec = {
      id, task: pick(tasks, p.task), args: p.args, options: pick(options, p.options),
      deps: p.deps.map((d) => (typeof d === 'number' ? pick(ids, d) : d)), input: pick(inputs, p.input),
      errbacks: pick(errbacks, p.errbacks), dispatch: pick(dispatches, p.dispatch),
    };
    if (p.shape === 'reordered') {
      const { dispatch, ...rest } = spec;
      return { dispatch, ...rest };
    }
    if (p.shape === 'extra') return { ...spec, note: 'é' } as NodeSpec;
    return spec;
  });
  return { nodes, result: { list: ids.map((node) => ({ node })) }, done: [ids[0]!], errbacks: [] };
});

describe('create and replace arguments', () => {
  test('compiled canvases, each node with its own dispatch object', () => {
    fc.assert(fc.property(canvasArb(), (canvas) => assertEncodesAsReference(storedGraph(canvas))), { numRuns: 300 });
  });

  test('compiled canvases with the dispatches the registry shares', () => {
    const tasks = registry();
    fc.assert(fc.property(canvasArb(), (canvas) => assertEncodesAsReference(buildStoredGraph(canvas, tasks, DEFAULT_LIMITS))), { numRuns: 300 });
  });

  test('drawn specs: unicode, odd keys, shared parts, duplicate ids, outside dependencies, other key orders', () => {
    fc.assert(fc.property(drawnGraphArb, (graph) => {
      assertEncodesAsReference(graph);
      // And each spec slot reads back as the spec (its id is the slot before).
      const args = createArgs(graph);
      graph.nodes.forEach((spec, i) => {
        const text = args[3 + i * 7 + 1]!;
        // Drawn options and arguments may hold a `__proto__` key, which compile refuses and reading refuses too (inv 10).
        if (hasProtoKey(text)) return assert.throws(() => parseSpecText(text, spec.task), SerializationError);
        const read = parseSpecText(text, spec.task);
        const plain = JSON.parse(JSON.stringify(spec)) as NodeSpec;
        assert.equal(read.id ?? args[3 + i * 7], spec.id);
        assert.deepEqual({ ...read, id: spec.id }, {
          id: spec.id, task: plain.task, args: plain.args, options: plain.options, deps: plain.deps, input: plain.input, errbacks: plain.errbacks, dispatch: plain.dispatch,
        });
      });
    }), { numRuns: 1_000 });
  });

  test('a spec stored whole, as braid wrote it before the stored form left defaults out, reads back as the spec', () => {
    fc.assert(fc.property(canvasArb(), (canvas) => {
      for (const spec of buildStoredGraph(canvas, registry(), DEFAULT_LIMITS).nodes) {
        // The task it carries wins over the one the reader passes.
        assert.deepEqual(parseSpecText(JSON.stringify(spec), 'not.this'), JSON.parse(JSON.stringify(spec)));
      }
    }), { numRuns: 100 });
  });

  test('a one-node spec at its defaults is its arguments only', () => {
    const [spec] = buildStoredGraph(sig('t.a', ['a1b2']), registry(), DEFAULT_LIMITS).nodes;
    assert.equal(createArgs({ nodes: [spec!], result: { node: spec!.id }, done: [spec!.id], errbacks: [] })[4], '{"args":["a1b2"]}');
  });

  test('a chord of 1,000 headers: the header records and specs share their tails and stay exact', () => {
    const canvas = chord(Array.from({ length: 1_000 }, (_, i) => sig('t.a', [i, 'é'])), sig('t.b'));
    assertEncodesAsReference(buildStoredGraph(canvas, registry(), DEFAULT_LIMITS));
    assertEncodesAsReference(buildStoredGraph(chain(sig('t.c'), canvas), registry(), DEFAULT_LIMITS));
  });
});
