/**
 * Turns a stored graph into the ARGV of the create and replace scripts (their headers document the slots).
 * What the Lua side must read is pre-digested here, so user JSON (args, options, results) is only ever
 * stored and concatenated in Lua, never decoded there: recipes become flat token lists, each node's
 * routing fields become its initial state record, and dependents lists are computed once.
 */
import type { Recipe } from '../../canvas/graph.js';
import type { ErrbackNodeSpec, NodeSpec, ReadyNode, StoredGraph } from '../store.js';

/**
 * A recipe as a flat token list: `'['` and `']'` open and close a list, anything else is a node id. Iterative,
 * so a recipe as deep as the canvas depth limit cannot overflow the stack (nor cjson's nesting limit in Lua).
 */
export function recipeTokens(recipe: Recipe): string[] {
  const out: string[] = [];
  const stack: Array<Recipe | ']'> = [recipe];
  while (stack.length > 0) {
    const item = stack.pop()!;
    if (item === ']') out.push(']');
    else if ('node' in item) out.push(item.node);
    else {
      out.push('[');
      stack.push(']');
      for (let i = item.list.length - 1; i >= 0; i--) stack.push(item.list[i]!);
    }
  }
  return out;
}

/**
 * The initial state record of a node (lib.lua reads it with cjson): state, counters and routing fields, and
 * `ni` when the node takes no parent input (it has no `input` row, so claim.lua need not look for one).
 */
export function initialRecord(spec: NodeSpec, replacing?: string): string {
  const d = spec.dispatch;
  const rec: Record<string, unknown> = {
    s: 'pending', r: spec.deps.length, a: 1, rt: 0, rd: 0, n: 0, k: 'task', t: spec.task, qu: d.queue,
    c: d.countdownMs, m: d.maxRedeliveries, e: spec.errbacks,
  };
  if (d.priority !== undefined) rec.p = d.priority;
  if (replacing !== undefined) rec.rp = replacing;
  if (!spec.input) rec.ni = true;
  return JSON.stringify(rec);
}

function errbackArgs(e: ErrbackNodeSpec): string[] {
  const d = e.dispatch;
  const route: Record<string, unknown> = { t: e.task, imm: e.immutable, qu: d.queue, c: d.countdownMs, m: d.maxRedeliveries };
  if (d.priority !== undefined) route.p = d.priority;
  return [JSON.stringify(route), JSON.stringify(e.args), JSON.stringify(e.options), JSON.stringify(d)];
}

interface Digest {
  /** N x 6 slots per node. */
  nodes: string[];
  /** Dependents of nodes outside the graph (replace only), in the order they are added. */
  outside: Map<string, string[]>;
}

/**
 * Per-node slots: id, spec, initial record, deps, dependents within the graph, input tokens. A dependency
 * counts for dependents only when it was added before the node (or is the node), as `addNode` does.
 */
function digest(graph: StoredGraph, replacing?: string, rootCountdowns = false): Digest {
  const inGraph = new Set(graph.nodes.map((n) => n.id));
  const seen = new Set<string>();
  const next = new Map<string, string[]>();
  const outside = new Map<string, string[]>();
  for (const spec of graph.nodes) {
    seen.add(spec.id);
    for (const dep of spec.deps) {
      const into = seen.has(dep) ? next : inGraph.has(dep) ? undefined : outside;
      if (!into) continue;
      const list = into.get(dep) ?? [];
      list.push(spec.id);
      into.set(dep, list);
    }
  }
  const nodes: string[] = [];
  for (const spec of graph.nodes) {
    const dependents = next.get(spec.id);
    nodes.push(
      spec.id, JSON.stringify(spec), initialRecord(spec, replacing),
      spec.deps.length > 0 ? JSON.stringify(spec.deps) : '',
      dependents ? JSON.stringify(dependents) : '',
      spec.input ? JSON.stringify(recipeTokens(spec.input)) : '',
    );
    if (rootCountdowns) nodes.push(spec.deps.length === 0 ? String(spec.dispatch.countdownMs) : '');
  }
  return { nodes, outside };
}

/** ARGV[6..] of create.lua (7 slots per node: the 6 of {@link digest} and a root's countdown). */
export function createArgs(graph: StoredGraph): string[] {
  const { nodes } = digest(graph, undefined, true);
  return [
    JSON.stringify(recipeTokens(graph.result)), String(graph.nodes.length), String(graph.errbacks.length),
    ...nodes, ...graph.errbacks.flatMap(errbackArgs),
  ];
}

/** ARGV[7..] of replace.lua (after node id and token). */
export function replaceArgs(graph: StoredGraph, nodeId: string): string[] {
  const { nodes, outside } = digest(graph, nodeId);
  return [
    JSON.stringify(recipeTokens(graph.result)), JSON.stringify(graph.done), String(graph.nodes.length),
    String(graph.errbacks.length), String(outside.size),
    ...nodes, ...graph.errbacks.flatMap(errbackArgs),
    ...[...outside].flatMap(([dep, ids]) => [dep, JSON.stringify(ids)]),
  ];
}

/**
 * The messages of a new workflow's roots (nodes without dependencies), in declaration order: what
 * `createRecord` lists when it marks them ready, and what create.lua queues without repeating them in its reply.
 */
export function rootMessages(workflowId: string, graph: StoredGraph): ReadyNode[] {
  return graph.nodes.filter((spec) => spec.deps.length === 0).map((spec) => {
    const d = spec.dispatch;
    return {
      workflowId, nodeId: spec.id, task: spec.task, attempt: 1, queue: d.queue,
      ...(d.priority !== undefined ? { priority: d.priority } : {}), delayMs: d.countdownMs,
    };
  });
}
