/**
 * The compiled form of a canvas: what `compile()` returns and what a store persists. Plain JSON throughout,
 * so a graph round-trips through any store unchanged.
 */
import type { JsonValue } from '../core/json.js';
import type { SignatureOptions } from './values.js';

/**
 * How a value is assembled from node results: one node's result, or an ordered list of recipes (a group's
 * result, nested as groups nest). `{ list: [] }` is an empty group's `[]`.
 */
export type Recipe = { node: string } | { list: Recipe[] };

/** A task invocation that an `onError` attaches to a part of the canvas. */
export interface ErrbackSpec {
  task: string;
  args: JsonValue[];
  options: SignatureOptions;
  /** True: the failure info is not prepended to the errback's arguments. */
  immutable: boolean;
}

/** One task invocation of the workflow. */
export interface GraphNode {
  /** Stable id: the same canvas compiles to the same ids (`n0`, `n1`, ...; replacements `n3.0`, ...). */
  id: string;
  task: string;
  /** Arguments as written in the signature, before any parent result. */
  args: JsonValue[];
  /** Options given on the signature and on the canvases around it (innermost wins), JSON only. */
  options: SignatureOptions;
  /** Ids of the nodes it waits for (an immutable step waits without receiving their results). */
  deps: string[];
  /** The parent result prepended as the first argument, or null (immutable step, or nothing before it). */
  input: Recipe | null;
  /** Indexes into {@link WorkflowGraph.errbacks} of the errbacks that cover this node, innermost first. */
  errbacks: number[];
}

/** A compiled canvas. `nodes` is in declaration order (depth-first over the canvas), which is topological. */
export interface WorkflowGraph {
  nodes: GraphNode[];
  /** How the workflow's result is built from node results. */
  result: Recipe;
  /** Nodes whose completion completes the canvas (the last step's nodes; for a replacement, what its node waits for). */
  done: string[];
  errbacks: ErrbackSpec[];
}

/** Every node id a recipe reads, in order. */
export function recipeNodes(recipe: Recipe, out: string[] = []): string[] {
  const stack: Recipe[] = [recipe];
  while (stack.length > 0) {
    const r = stack.pop()!;
    if ('node' in r) out.push(r.node);
    else for (let i = r.list.length - 1; i >= 0; i--) stack.push(r.list[i]!);
  }
  return out;
}

/**
 * Builds a value from a recipe, reading each node's result through `read`. Iterative, so a recipe as deep as
 * the canvas depth limit cannot overflow the stack.
 */
export function buildFromRecipe(recipe: Recipe, read: (nodeId: string) => JsonValue): JsonValue {
  if ('node' in recipe) return read(recipe.node);
  const root: JsonValue[] = [];
  const stack: Array<{ recipe: Recipe; into: JsonValue[] }> = [{ recipe, into: root }];
  let first = true;
  while (stack.length > 0) {
    const { recipe: r, into } = stack.pop()!;
    if ('node' in r) {
      into.push(read(r.node));
      continue;
    }
    const target = first ? root : ([] as JsonValue[]);
    if (!first) into.push(target);
    first = false;
    for (let i = r.list.length - 1; i >= 0; i--) stack.push({ recipe: r.list[i]!, into: target });
  }
  return root;
}
