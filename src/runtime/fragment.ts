/**
 * Turning a canvas into a {@link StoredGraph}: compile it, resolve each node's dispatch through the registry,
 * and check argument sizes, all before anything is stored (RELIABILITY §5 rows 4, 13, 14).
 */
import { SerializationError } from '../core/errors.js';
import { assertJsonSize } from '../core/json.js';
import { compile, type CompileOptions } from '../canvas/compile.js';
import type { AnyCanvas } from '../canvas/values.js';
import type { ErrbackNodeSpec, NodeSpec, StoredGraph } from '../stores/store.js';
import type { Limits } from './limits.js';
import type { TaskRegistry } from './registry.js';

/** Compiles a canvas and resolves everything the store keeps per node. */
export function buildStoredGraph(canvas: AnyCanvas, registry: TaskRegistry, limits: Limits, compileOptions: CompileOptions = {}): StoredGraph {
  const graph = compile(canvas, { maxNodes: limits.maxNodes, maxDepth: limits.canvasDepth, ...compileOptions });
  const sizeLimit = { maxBytes: limits.argsBytes, maxDepth: limits.jsonDepth };
  for (const node of graph.nodes) checkArgs(node.args, node.task, node.id, sizeLimit);
  for (const e of graph.errbacks) checkArgs(e.args, e.task, undefined, sizeLimit);
  // The compiled graph is this call's own: each node gets its dispatch in place instead of a copy.
  for (const node of graph.nodes) (node as NodeSpec).dispatch = registry.dispatch(node.task, node.options);
  for (const e of graph.errbacks) (e as ErrbackNodeSpec).dispatch = registry.dispatch(e.task, e.options);
  return graph as StoredGraph;
}

function checkArgs(args: unknown[], task: string, nodeId: string | undefined, limit: { maxBytes: number; maxDepth: number }): void {
  try {
    assertJsonSize(args, nodeId === undefined ? `errback ${task} args` : `${task} (${nodeId}) args`, limit);
  } catch (error) {
    if (error instanceof SerializationError) throw error;
    throw new SerializationError(nodeId === undefined ? `errback ${task} args` : `${task} (${nodeId}) args`, 'arguments could not be encoded');
  }
}
