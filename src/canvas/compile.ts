/**
 * The compiler: canvas value -> {@link WorkflowGraph}. Pure and deterministic: the same canvas always gives
 * the same graph and node ids. Bounded by the canvas depth and node count limits (RELIABILITY §5 row 13),
 * checked as it goes so a huge or cyclic canvas is refused before anything is stored.
 */
import { CanvasError } from '../core/errors.js';
import { hasNoOptions } from '../core/options.js';
import type { ErrbackSpec, GraphNode, Recipe, WorkflowGraph } from './graph.js';
import { Chain, Chord, Group, Signature, isCanvas, type AnyCanvas, type SignatureOptions } from './values.js';

/** Bounds and naming of one compilation. */
export interface CompileOptions {
  /** Prefix of node ids: `n` gives `n0`, `n1`...; a replacement of node `n3` uses `n3.`. */
  idPrefix?: string;
  /** Most nodes allowed (default 100,000). */
  maxNodes?: number;
  /** Deepest nesting of canvases allowed (default 1,000). */
  maxDepth?: number;
  /** Errback indexes that cover every node compiled (used for replacements, which inherit their node's). */
  inheritedErrbacks?: number[];
  /** Index the first new errback gets (replacements append to an existing list). */
  errbackBase?: number;
}

/** Default caps of a compiled workflow (RELIABILITY §5 limits). */
export const DEFAULT_MAX_NODES = 100_000;
/** Default cap on canvas nesting. */
export const DEFAULT_MAX_CANVAS_DEPTH = 1_000;

/** What flows into or out of a part of the canvas: the value's recipe and the nodes that produce it. */
interface Flow {
  /** The value passed on, or null when nothing precedes (top of the workflow). */
  recipe: Recipe | null;
  /** Nodes that must finish before whatever comes next may start. */
  done: string[];
}

interface Scope {
  options: SignatureOptions;
  errbacks: number[];
}

/**
 * Compiles a canvas into a graph: one node per task invocation, no synthetic nodes.
 * @throws CanvasError past the caps, or for a value that is not a canvas.
 */
export function compile(canvas: AnyCanvas, options: CompileOptions = {}): WorkflowGraph {
  const prefix = options.idPrefix ?? 'n';
  const maxNodes = options.maxNodes ?? DEFAULT_MAX_NODES;
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_CANVAS_DEPTH;
  const errbackBase = options.errbackBase ?? 0;
  const nodes: GraphNode[] = [];
  const errbacks: ErrbackSpec[] = [];

  const enter = (c: AnyCanvas, outer: Scope): Scope => {
    // Nothing set and no errback: the outer scope as it is (nodes may share its option and errback values).
    if (c.errbacks.length === 0 && hasNoOptions(c.options)) return outer;
    const own: number[] = [];
    for (const e of c.errbacks) {
      own.push(errbackBase + errbacks.length);
      errbacks.push({ task: e.task, args: [...e.args], options: { ...e.options }, immutable: e.immutable });
    }
    return { options: { ...outer.options, ...c.options }, errbacks: [...own, ...outer.errbacks] };
  };

  const visit = (c: AnyCanvas, input: Flow, outer: Scope, depth: number): Flow => {
    if (depth > maxDepth) throw new CanvasError(`canvas is nested deeper than ${maxDepth} levels (or is cyclic)`);
    if (!isCanvas(c)) throw new CanvasError('not a canvas (signature, chain, group or chord)');
    const scope = enter(c, outer);
    if (c instanceof Signature) {
      if (nodes.length >= maxNodes) throw new CanvasError(`canvas has more than ${maxNodes} nodes`);
      const id = `${prefix}${nodes.length}`;
      nodes.push({
        id,
        task: c.task,
        args: [...c.args],
        options: scope.options,
        deps: unique(input.done),
        input: c.immutable ? null : input.recipe,
        errbacks: scope.errbacks,
      });
      return { recipe: { node: id }, done: [id] };
    }
    if (c instanceof Chain) {
      let flow = input;
      for (const step of c.steps) flow = visit(step, flow, scope, depth + 1);
      return flow;
    }
    if (c instanceof Group) return visitGroup(c.members, input, scope, depth);
    if (c instanceof Chord) {
      const header = visitGroup(c.header, input, scope, depth);
      return visit(c.body, header, scope, depth + 1);
    }
    throw new CanvasError('not a canvas (signature, chain, group or chord)');
  };

  const visitGroup = (members: readonly AnyCanvas[], input: Flow, scope: Scope, depth: number): Flow => {
    if (members.length === 0) return { recipe: { list: [] }, done: input.done };
    const list: Recipe[] = [];
    const done: string[] = [];
    for (const m of members) {
      const out = visit(m, input, scope, depth + 1);
      list.push(out.recipe!);
      for (const id of out.done) done.push(id);
    }
    return { recipe: { list }, done };
  };

  const top = visit(canvas, { recipe: null, done: [] }, { options: {}, errbacks: [...(options.inheritedErrbacks ?? [])] }, 0);
  return { nodes, result: top.recipe!, done: unique(top.done), errbacks };
}

function unique(ids: string[]): string[] {
  return ids.length < 2 ? [...ids] : [...new Set(ids)];
}
