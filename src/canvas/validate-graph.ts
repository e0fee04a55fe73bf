/**
 * Re-validates a graph read from a store before it is advanced (RELIABILITY §5 row 12): unique ids, every
 * dependency declared before its dependent (so the graph is acyclic), recipes that read only dependencies.
 */
import { CanvasError } from '../core/errors.js';
import { recipeNodes, type WorkflowGraph } from './graph.js';

/** @throws CanvasError naming the first node that breaks the rules. */
export function validateGraph(graph: WorkflowGraph, knownBefore: ReadonlySet<string> = new Set()): void {
  const seen = new Set<string>(knownBefore);
  for (const node of graph.nodes) {
    if (typeof node.id !== 'string' || seen.has(node.id)) throw new CanvasError(`graph: duplicate or invalid node id ${String(node.id)}`);
    const deps = new Set(node.deps);
    for (const dep of node.deps) {
      if (!seen.has(dep)) throw new CanvasError(`graph: node ${node.id} waits for ${dep}, which is not declared before it (cycle or forgery)`);
    }
    if (node.input) {
      for (const id of recipeNodes(node.input)) {
        if (!deps.has(id)) throw new CanvasError(`graph: node ${node.id} reads the result of ${id} without waiting for it`);
      }
    }
    for (const e of node.errbacks) {
      if (!Number.isInteger(e) || e < 0) throw new CanvasError(`graph: node ${node.id} names an invalid errback`);
    }
    seen.add(node.id);
  }
  for (const id of recipeNodes(graph.result)) {
    if (!seen.has(id)) throw new CanvasError(`graph: the result reads unknown node ${id}`);
  }
}
