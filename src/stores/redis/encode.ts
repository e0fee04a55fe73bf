/**
 * Turns a stored graph into the ARGV of the create and replace scripts (their headers document the slots).
 * What the Lua side must read is pre-digested here, so user JSON (args, options, results) is only ever
 * stored and concatenated in Lua, never decoded there: recipes become flat token lists, each node's
 * routing fields become its initial state record, and dependents lists are computed once.
 */
import type { Recipe } from '../../canvas/graph.js';
import type { ErrbackNodeSpec, NodeSpec, StoredGraph } from '../store.js';
import { RECORD_DEFAULTS } from './node-record.js';
import { SpecTexts, specText } from './spec-text.js';

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

/** `JSON.stringify(text)`, from `cache` when given (a graph of one node has nothing to share). */
function quoted(cache: Quoted | undefined, text: string): string {
  if (cache === undefined) return JSON.stringify(text);
  let json = cache.get(text);
  if (json === undefined) cache.set(text, (json = JSON.stringify(text)));
  return json;
}

/**
 * The initial state record of a node (lib.lua reads it with cjson): state, task, and the counters and routing
 * fields that are not at their default (RECORD_DEFAULTS, node-record.ts: readers fill those in), `ni` when the
 * node takes no parent input (it has no `input` row, so claim.lua need not look for one), and `d`, its one
 * dependent, when it has exactly one (it then has no `next` row: lib.lua dependentsOf). Written as text, state
 * and task first (lib.lua's writeNodeRows swaps the state's head for a root, compact.lua reads the task name
 * after it); `cache` keeps the quoted names a graph repeats.
 */
export function initialRecord(spec: NodeSpec, replacing?: string, cache?: Quoted, dependent?: string): string {
  const d = spec.dispatch;
  let rec = `{"s":"pending","t":${quoted(cache, spec.task)}`;
  if (spec.deps.length !== RECORD_DEFAULTS.r) rec += `,"r":${spec.deps.length}`;
  if (d.queue !== RECORD_DEFAULTS.qu) rec += `,"qu":${quoted(cache, d.queue)}`;
  if (d.countdownMs !== RECORD_DEFAULTS.c) rec += `,"c":${d.countdownMs}`;
  if (d.maxRedeliveries !== RECORD_DEFAULTS.m) rec += `,"m":${d.maxRedeliveries}`;
  if (spec.errbacks.length > 0) rec += `,"e":${JSON.stringify(spec.errbacks)}`;
  if (d.priority !== undefined) rec += `,"p":${d.priority}`;
  if (replacing !== undefined) rec += `,"rp":${JSON.stringify(replacing)}`;
  if (!spec.input) rec += ',"ni":true';
  if (dependent !== undefined) rec += `,"d":${quoted(cache, dependent)}`;
  return `${rec}}`;
}

/**
 * The initial records of one graph's nodes ({@link initialRecord}): the last one is reused while the next node
 * has the same task, dispatch, errbacks, dependency count, input presence and one dependent (every header node
 * of a chord).
 */
class RecordTexts {
  private last: NodeSpec | undefined;
  private lastDependent: string | undefined;
  private lastText = '';
  /** `cache` keeps the quoted names the graph repeats; none for a graph of one node. */
  constructor(private readonly replacing: string | undefined, private readonly cache: Quoted | undefined) {}

  /** The record of `spec`, whose one dependent (if it has exactly one) is `dependent`. */
  text(spec: NodeSpec, dependent: string | undefined): string {
    const last = this.last;
    if (last === undefined || spec.task !== last.task || spec.dispatch !== last.dispatch || spec.errbacks !== last.errbacks ||
      spec.deps.length !== last.deps.length || !spec.input !== !last.input || dependent !== this.lastDependent) {
      this.lastText = initialRecord(spec, this.replacing, this.cache, dependent);
    }
    this.last = spec;
    this.lastDependent = dependent;
    return this.lastText;
  }
}

function errbackArgs(e: ErrbackNodeSpec): string[] {
  const d = e.dispatch;
  const route: Record<string, unknown> = { t: e.task, imm: e.immutable, qu: d.queue, c: d.countdownMs, m: d.maxRedeliveries };
  if (d.priority !== undefined) route.p = d.priority;
  return [JSON.stringify(route), JSON.stringify(e.args), JSON.stringify(e.options), JSON.stringify(d)];
}

/** `JSON.stringify(ids)` for a list of ids; a one-id list (every chord header's dependents) from `singles`. */
function idList(ids: readonly string[], singles: Quoted | undefined): string {
  if (ids.length !== 1 || singles === undefined) return JSON.stringify(ids);
  const only = ids[0]!;
  let json = singles.get(only);
  if (json === undefined) singles.set(only, (json = `[${JSON.stringify(only)}]`));
  return json;
}

/** Who depends on whom: per node (by position) its dependents within the graph, and those of nodes outside it. */
interface Dependents {
  within: Array<string[] | undefined>;
  /** Dependents of nodes outside the graph (replace only), in the order they are added. */
  outside: ReadonlyMap<string, string[]>;
}

/** The dependents of a lone node of a create: none (shared, never written to). */
const NO_DEPENDENTS: Dependents = { within: [], outside: new Map() };

/**
 * The dependents of each node. A dependency counts within the graph only when it was added before the node (or
 * is the node), as `addNode` does; nodes of one id (never made by compile) share one list, as there.
 */
function dependentsOf(nodes: readonly NodeSpec[], replacing: string | undefined): Dependents {
  if (nodes.length <= 1 && replacing === undefined) return NO_DEPENDENTS;
  const outside = new Map<string, string[]>();
  const within = new Array<string[] | undefined>(nodes.length).fill(undefined);
  const first = new Map<string, number>();
  for (let i = 0; i < nodes.length; i++) {
    const id = nodes[i]!.id;
    if (!first.has(id)) first.set(id, i);
  }
  for (let i = 0; i < nodes.length; i++) {
    const spec = nodes[i]!;
    for (const dep of spec.deps) {
      const at = first.get(dep);
      if (at !== undefined && at > i) continue;
      const list = at === undefined ? outside.get(dep) : within[at];
      if (list) list.push(spec.id);
      else if (at === undefined) outside.set(dep, [spec.id]);
      else within[at] = [spec.id];
    }
  }
  if (first.size < nodes.length) nodes.forEach((spec, i) => (within[i] = within[first.get(spec.id)!]));
  return { within, outside };
}

/**
 * The node rows of a graph, written in ranges (a staged create writes them chunk by chunk): per node its slots
 * id, spec, initial record, deps, dependents within the graph, input tokens (and, with `rootCountdowns`, a
 * root's countdown). Dependents are worked out once for the whole graph; the texts nodes share are made once.
 */
export class NodeRows {
  /** The dependents of nodes outside the graph (replace only). */
  readonly outside: ReadonlyMap<string, string[]>;
  private readonly within: Array<string[] | undefined>;
  private readonly singles: Quoted | undefined;
  private readonly specs: SpecTexts | undefined;
  private readonly records: RecordTexts;

  constructor(private readonly graph: StoredGraph, replacing?: string, private readonly rootCountdowns = false) {
    ({ within: this.within, outside: this.outside } = dependentsOf(graph.nodes, replacing));
    // One node (the throughput path) shares nothing with another: nothing is cached.
    const shares = graph.nodes.length > 1;
    this.singles = shares ? new Map() : undefined;
    this.specs = shares ? new SpecTexts() : undefined;
    this.records = new RecordTexts(replacing, shares ? new Map() : undefined);
  }

  /** Pushes the rows of nodes `from` (inclusive) to `to` (exclusive) onto `out`. */
  write(out: string[], from: number, to: number): void {
    const { graph, within, singles, specs, records } = this;
    for (let i = from; i < to; i++) {
      const spec = graph.nodes[i]!;
      const dependents = within[i];
      // One dependent rides in the record (no `next` row to write now, nor to read at each completion).
      const one = dependents?.length === 1 ? dependents[0] : undefined;
      const root = spec.deps.length === 0;
      const deps = root ? '[]' : idList(spec.deps, singles);
      out.push(
        spec.id, specs ? specs.text(spec, deps) : specText(spec), records.text(spec, one),
        root ? '' : deps,
        dependents && one === undefined ? idList(dependents, singles) : '',
        spec.input ? JSON.stringify(recipeTokens(spec.input)) : '',
      );
      if (this.rootCountdowns) out.push(root ? String(spec.dispatch.countdownMs) : '');
    }
  }
}

/**
 * ARGV[6..] of create.lua (7 slots per node: the 6 of {@link NodeRows} and a root's countdown), after `head`
 * (the arguments before them, e.g. ARGV[5]). With `rows` and `from`, the nodes from `from` on only: the last
 * chunk of a staged create, whose earlier chunks went ahead as stage.lua calls.
 */
export function createArgs(graph: StoredGraph, head: readonly string[] = [], rows = createRows(graph), from = 0): string[] {
  const out = [...head, JSON.stringify(recipeTokens(graph.result)), String(graph.nodes.length - from), String(graph.errbacks.length)];
  rows.write(out, from, graph.nodes.length);
  for (const e of graph.errbacks) out.push(...errbackArgs(e));
  return out;
}

/** The node rows of a create (or of its staged chunks: stage.lua ARGV[8..]). */
export function createRows(graph: StoredGraph): NodeRows {
  return new NodeRows(graph, undefined, true);
}

/** ARGV[7..] of replace.lua (after node id and token). */
export function replaceArgs(graph: StoredGraph, nodeId: string): string[] {
  const nodes: string[] = [];
  const rows = new NodeRows(graph, nodeId);
  rows.write(nodes, 0, graph.nodes.length);
  const outside = rows.outside;
  return [
    JSON.stringify(recipeTokens(graph.result)), JSON.stringify(graph.done), String(graph.nodes.length),
    String(graph.errbacks.length), String(outside.size),
    ...nodes, ...graph.errbacks.flatMap(errbackArgs),
    ...[...outside].flatMap(([dep, ids]) => [dep, JSON.stringify(ids)]),
  ];
}

