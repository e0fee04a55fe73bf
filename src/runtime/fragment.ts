/**
 * Turning a canvas into a {@link StoredGraph}: compile it, resolve each node's dispatch through the registry,
 * and check argument sizes, all before anything is stored (RELIABILITY §5 rows 4, 13, 14).
 */
import { SerializationError } from '../core/errors.js';
import { encodeJson } from '../core/json.js';
import { compile, type CompileOptions } from '../canvas/compile.js';
import type { AnyCanvas } from '../canvas/values.js';
import type { StoredGraph } from '../stores/store.js';
import type { Limits } from './limits.js';
import type { TaskRegistry } from './registry.js';

/** Compiles a canvas and resolves everything the store keeps per node. */
export function buildStoredGraph(canvas: AnyCanvas, registry: TaskRegistry, limits: Limits, compileOptions: CompileOptions = {}): StoredGraph {
  const graph = compile(canvas, { maxNodes: limits.maxNodes, maxDepth: limits.canvasDepth, ...compileOptions });
  const sizeLimit = { maxBytes: limits.argsBytes, maxDepth: limits.jsonDepth };
  for (const node of graph.nodes) checkArgs(node.args, `${node.task} (${node.id}) args`, sizeLimit);
  for (const e of graph.errbacks) checkArgs(e.args, `errback ${e.task} args`, sizeLimit);
  return {
    nodes: graph.nodes.map((n) => ({ ...n, dispatch: registry.dispatch(n.task, n.options) })),
    result: graph.result,
    done: graph.done,
    errbacks: graph.errbacks.map((e) => ({ ...e, dispatch: registry.dispatch(e.task, e.options) })),
  };
}

function checkArgs(args: unknown[], path: string, limit: { maxBytes: number; maxDepth: number }): void {
  try {
    encodeJson(args, path, limit);
  } catch (error) {
    if (error instanceof SerializationError) throw error;
    throw new SerializationError(path, 'arguments could not be encoded');
  }
}
