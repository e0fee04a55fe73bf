/**
 * The stored text of a node's spec (the `spec` row, or `_spec` of a compact workflow): JSON of the spec without
 * its id (the row's key, or `_id`), without its task (the node's record holds it, and a claim names it: the
 * store answers `forged` unless it is the stored one) and without each part that holds its stored default
 * ({@link SPEC_DEFAULTS}), so most specs are `{"args":[…]}`. A compact workflow whose fields are all short (an id
 * or two as arguments) stays a listpack hash in Redis (`hash-max-listpack-value`, 64 bytes): about a third of the
 * memory of a hashtable, and a little less work for each transition (docs/redis-data-model.md "The stored spec").
 *
 * {@link SpecTexts} writes the texts of one graph without walking the parts most nodes share (a chord's header
 * nodes differ only in id and arguments; their options, input, errbacks and dispatch are the same objects);
 * {@link parseSpecText} reads them back, and reads the whole `JSON.stringify(spec)` that braid wrote before.
 */
import { parseJson } from '../../core/json.js';
import type { Dispatch, NodeSpec } from '../store.js';

/** The keys of a spec as compile and buildStoredGraph make it, in their order. */
const SPEC_KEYS = ['id', 'task', 'args', 'options', 'deps', 'input', 'errbacks', 'dispatch'] as const;

/**
 * The text of each part a stored spec leaves out while it holds it. Constants of the stored format, not the
 * options' defaults (DEFAULT_OPTIONS' queue and maxRedeliveries today): changing one changes what specs already
 * stored mean.
 */
const SPEC_DEFAULTS = Object.freeze({
  options: '{}',
  deps: '[]',
  input: 'null',
  errbacks: '[]',
  dispatch: '{"queue":"default","countdownMs":0,"maxRedeliveries":5}',
});

/** A spec as read back: every part but the id, which the reader knows from where the text was stored. */
export type StoredSpec = Omit<NodeSpec, 'id'> & { id?: string };

/** True when `spec`'s enumerable keys are exactly {@link SPEC_KEYS}, in that order. */
function hasSpecKeys(spec: object): boolean {
  let i = 0;
  for (const key in spec) {
    if (key !== SPEC_KEYS[i]) return false;
    i += 1;
  }
  return i === SPEC_KEYS.length;
}

/** `,"key":text`, or '' when `text` is the part's default (or `undefined`: JSON.stringify would drop the key). */
function part(key: keyof typeof SPEC_DEFAULTS, text: string | undefined): string {
  return text === undefined || text === SPEC_DEFAULTS[key] ? '' : `,"${key}":${text}`;
}

/**
 * Writes the spec texts of one graph's nodes, in any order. It remembers the parts after the arguments of the
 * last node it wrote (options to dispatch), so it must only see specs that are not changed while it is in use.
 */
export class SpecTexts {
  private options: unknown = undefined;
  private depsText = '';
  private input: unknown = undefined;
  private errbacks: unknown = undefined;
  private dispatch: unknown = undefined;
  /** The parts after the arguments of the fields above, and the closing brace; undefined before the first. */
  private tail: string | undefined;

  /** The stored text of `spec`; `depsText` is `JSON.stringify(spec.deps)`, which the caller has already. */
  text(spec: NodeSpec, depsText = JSON.stringify(spec.deps)): string {
    // A spec of another shape (never made by compile) is kept whole; the reader takes it as it is.
    if (typeof spec.task !== 'string' || !Array.isArray(spec.args) || !hasSpecKeys(spec)) return JSON.stringify(spec);
    return `{"args":${JSON.stringify(spec.args)}${this.tailOf(spec, depsText)}`;
  }

  /**
   * The text after the arguments, reused while the fields it writes are those of the last node; `}` at once when
   * every part holds its default (most one-node workflows, each written by a SpecTexts of its own).
   */
  private tailOf(spec: NodeSpec, depsText: string): string {
    if (this.tail !== undefined && spec.options === this.options && depsText === this.depsText && spec.input === this.input &&
      spec.errbacks === this.errbacks && spec.dispatch === this.dispatch) return this.tail;
    if (allDefaults(spec, depsText)) return '}';
    this.options = spec.options;
    this.depsText = depsText;
    this.input = spec.input;
    this.errbacks = spec.errbacks;
    this.dispatch = spec.dispatch;
    this.tail = `${part('options', JSON.stringify(spec.options))}${part('deps', depsText)}${part('input', JSON.stringify(spec.input))}` +
      `${part('errbacks', JSON.stringify(spec.errbacks))}${part('dispatch', JSON.stringify(spec.dispatch))}}`;
    return this.tail;
  }
}

/** True when no own enumerable key is in `value`. */
function isEmptyObject(value: object): boolean {
  for (const key in value) if (Object.hasOwn(value, key)) return false;
  return true;
}

/**
 * True when every part after the arguments holds its stored default ({@link SPEC_DEFAULTS}), checked without
 * writing them: the texts `part` would compare are those of these values.
 */
function allDefaults(spec: NodeSpec, depsText: string): boolean {
  const { options, input, errbacks, dispatch } = spec;
  if (depsText !== SPEC_DEFAULTS.deps || input !== null || !Array.isArray(errbacks) || errbacks.length !== 0) return false;
  if (typeof options !== 'object' || options === null || Array.isArray(options) || !isEmptyObject(options)) return false;
  if (typeof dispatch !== 'object' || dispatch === null) return false;
  let i = 0;
  for (const key in dispatch) {
    if (key !== DEFAULT_DISPATCH_KEYS[i]) return false;
    i += 1;
  }
  return i === DEFAULT_DISPATCH_KEYS.length && dispatch.queue === 'default' && dispatch.countdownMs === 0 && dispatch.maxRedeliveries === 5;
}

/** The keys of the default dispatch, in the order of its stored text. */
const DEFAULT_DISPATCH_KEYS = ['queue', 'countdownMs', 'maxRedeliveries'] as const;

/** The stored text of one spec ({@link SpecTexts} for a graph of one node). */
export function specText(spec: NodeSpec): string {
  return new SpecTexts().text(spec);
}

/** The default dispatch, a fresh object per read (a reader may keep it). */
function defaultDispatch(): Dispatch {
  return { queue: 'default', countdownMs: 0, maxRedeliveries: 5 };
}

/**
 * A stored spec text (either form) with each part it leaves out set to its default; `task` is the node's task
 * (from its record, or the claim that the store checked against it), which a whole spec written before carries.
 */
export function parseSpecText(text: string, task: string): StoredSpec {
  const spec = parseJson(text) as unknown as Partial<NodeSpec>;
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec) || !Array.isArray(spec.args)) {
    throw new Error(`redis store: a stored spec is not one: ${text.slice(0, 80)}`);
  }
  const read: StoredSpec = {
    task: typeof spec.task === 'string' ? spec.task : task, args: spec.args, options: spec.options ?? {}, deps: spec.deps ?? [], input: spec.input ?? null,
    errbacks: spec.errbacks ?? [], dispatch: spec.dispatch ?? defaultDispatch(),
  };
  if (spec.id !== undefined) read.id = spec.id;
  return read;
}
