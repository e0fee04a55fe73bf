/**
 * Turns a stored graph into the ARGV of the create and replace scripts (their headers document the slots).
 * What the Lua side must read is pre-digested here, so user JSON (args, options, results) is only ever
 * stored and concatenated in Lua, never decoded there: recipes become flat token lists, each node's
 * routing fields become its initial state record, and dependents lists are computed once.
 */
import type { Recipe } from '../../canvas/graph.js';
import type { ErrbackNodeSpec, NodeSpec, StoredGraph } from '../store.js';

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

/** JSON texts of the strings a graph repeats (task and queue names), each quoted once per encode. */
type Quoted = Map<string, string>;

function quoted(cache: Quoted, text: string): string {
  let json = cache.get(text);
  if (json === undefined) cache.set(text, (json = JSON.stringify(text)));
  return json;
}

/**
 * The initial state record of a node (lib.lua reads it with cjson): state, counters and routing fields, and
 * `ni` when the node takes no parent input (it has no `input` row, so claim.lua need not look for one). Written
 * as text, field by field in a fixed order (compact.lua reads the task name after `"k":"task",`); `cache`
 * keeps the quoted names a graph repeats.
 */
export function initialRecord(spec: NodeSpec, replacing?: string, cache: Quoted = new Map()): string {
  const d = spec.dispatch;
  let rec = `{"s":"pending","r":${spec.deps.length},"a":1,"rt":0,"rd":0,"n":0,"k":"task","t":${quoted(cache, spec.task)},` +
    `"qu":${quoted(cache, d.queue)},"c":${d.countdownMs},"m":${d.maxRedeliveries},"e":${spec.errbacks.length > 0 ? JSON.stringify(spec.errbacks) : '[]'}`;
  if (d.priority !== undefined) rec += `,"p":${d.priority}`;
  if (replacing !== undefined) rec += `,"rp":${JSON.stringify(replacing)}`;
  if (!spec.input) rec += ',"ni":true';
  return `${rec}}`;
}

function errbackArgs(e: ErrbackNodeSpec): string[] {
  const d = e.dispatch;
  const route: Record<string, unknown> = { t: e.task, imm: e.immutable, qu: d.queue, c: d.countdownMs, m: d.maxRedeliveries };
  if (d.priority !== undefined) route.p = d.priority;
  return [JSON.stringify(route), JSON.stringify(e.args), JSON.stringify(e.options), JSON.stringify(d)];
}

interface Digest {
  /** Per node: id, spec, initial record, deps, dependents within the graph, input tokens (and a root's countdown). */
  nodes: string[];
  /** Dependents of nodes outside the graph (replace only), in the order they are added. */
  outside: Map<string, string[]>;
}

/** `JSON.stringify(ids)` for a list of ids; a one-id list (every chord header's dependents) from `cache`. */
function idList(ids: readonly string[], cache: Quoted): string {
  if (ids.length !== 1) return JSON.stringify(ids);
  const only = ids[0]!;
  let json = cache.get(`[${only}`);
  if (json === undefined) cache.set(`[${only}`, (json = `[${JSON.stringify(only)}]`));
  return json;
}

/**
 * Per-node slots onto `out`: id, spec, initial record, deps, dependents within the graph, input tokens (and,
 * with `rootCountdowns`, a root's countdown). A dependency counts for dependents only when it was added before
 * the node (or is the node), as `addNode` does.
 */
function digest(graph: StoredGraph, out: string[], replacing?: string, rootCountdowns = false): Map<string, string[]> {
  const cache: Quoted = new Map();
  const outside = new Map<string, string[]>();
  const next = new Map<string, string[]>();
  if (graph.nodes.length > 1 || replacing !== undefined) {
    const inGraph = new Set(graph.nodes.map((n) => n.id));
    const seen = new Set<string>();
    for (const spec of graph.nodes) {
      seen.add(spec.id);
      for (const dep of spec.deps) {
        const into = seen.has(dep) ? next : inGraph.has(dep) ? undefined : outside;
        if (!into) continue;
        const list = into.get(dep);
        if (list) list.push(spec.id);
        else into.set(dep, [spec.id]);
      }
    }
  }
  for (const spec of graph.nodes) {
    const dependents = next.get(spec.id);
    const root = spec.deps.length === 0;
    out.push(
      spec.id, JSON.stringify(spec), initialRecord(spec, replacing, cache),
      root ? '' : idList(spec.deps, cache),
      dependents ? idList(dependents, cache) : '',
      spec.input ? JSON.stringify(recipeTokens(spec.input)) : '',
    );
    if (rootCountdowns) out.push(root ? String(spec.dispatch.countdownMs) : '');
  }
  return outside;
}

/**
 * ARGV[6..] of create.lua (7 slots per node: the 6 of {@link digest} and a root's countdown), after `head`
 * (the arguments before them, e.g. ARGV[5]).
 */
export function createArgs(graph: StoredGraph, head: readonly string[] = []): string[] {
  const out = [...head, JSON.stringify(recipeTokens(graph.result)), String(graph.nodes.length), String(graph.errbacks.length)];
  digest(graph, out, undefined, true);
  for (const e of graph.errbacks) out.push(...errbackArgs(e));
  return out;
}

/** ARGV[7..] of replace.lua (after node id and token). */
export function replaceArgs(graph: StoredGraph, nodeId: string): string[] {
  const nodes: string[] = [];
  const outside = digest(graph, nodes, nodeId);
  return [
    JSON.stringify(recipeTokens(graph.result)), JSON.stringify(graph.done), String(graph.nodes.length),
    String(graph.errbacks.length), String(outside.size),
    ...nodes, ...graph.errbacks.flatMap(errbackArgs),
    ...[...outside].flatMap(([dep, ids]) => [dep, JSON.stringify(ids)]),
  ];
}

