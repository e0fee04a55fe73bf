/**
 * Canvas values: signatures, chains, groups and chords. Each is immutable; `.set()` and `.onError()` return
 * copies. The type parameters carry what TypeScript infers for the canvas: `R` the result, `I` the parent
 * result the canvas can take as input (see ./typing.ts). Pure data: no I/O, no clock.
 */
import { assertJson, type JsonValue } from '../core/json.js';
import { CanvasError } from '../core/errors.js';
import { hasNoOptions, validateOptions, type ErrorMatcher, type TaskOptions } from '../core/options.js';

/** Options stored on a signature: {@link TaskOptions} with `autoretryFor` as error names, so it is JSON. */
export type SignatureOptions = Omit<TaskOptions, 'autoretryFor'> & { autoretryFor?: string[] };

/** What `.set()` takes: any {@link TaskOptions}; error classes in `autoretryFor` are stored by name. */
export type SetOptions = TaskOptions;

/** Type-level brand behind {@link NoParent} (exported so declaration files of user code can name it). */
export declare const noParentBrand: unique symbol;
/** The "input" of a canvas that takes no parent result: only such a canvas can be started on its own. */
export type NoParent = typeof noParentBrand;

/** The first argument prepended to an errback: what failed, and how. */
export interface ErrbackInfo {
  workflowId: string;
  nodeId: string;
  task: string;
  error: { name: string; message: string; stack?: string };
}

/** Phantom typing shared by every canvas value: `R` flows out (covariant), `I` flows in (contravariant). */
interface Typed<R, I> {
  /** Type-level only; never present at run time. */
  readonly __types?: { result: R; input: (input: I) => void };
}

const NO_OPTIONS: Readonly<SignatureOptions> = Object.freeze({});
const NO_ERRBACKS: readonly Signature<unknown, never>[] = Object.freeze([]);

/** Fields every canvas value has. */
abstract class CanvasBase<R, I> implements Typed<R, I> {
  declare readonly __types?: { result: R; input: (input: I) => void };
  /** Options set on this value with `.set()`; they apply to every node inside it (inner ones win). */
  readonly options: Readonly<SignatureOptions>;
  /** Errbacks attached with `.onError()`. */
  readonly errbacks: readonly Signature<unknown, never>[];

  protected constructor(options: SignatureOptions, errbacks: readonly Signature<unknown, never>[]) {
    // Most values set nothing: they share one frozen empty options object and errback list.
    this.options = hasNoOptions(options) ? NO_OPTIONS : Object.freeze({ ...options });
    this.errbacks = errbacks.length === 0 ? NO_ERRBACKS : Object.freeze([...errbacks]);
  }

  /** Returns a copy with `options` merged over this value's own. */
  set(options: SetOptions): this {
    validateOptions(options, `${this.describe()}.set()`);
    return this.copy({ ...this.options, ...storedOptions(options) }, this.errbacks);
  }

  /**
   * Returns a copy whose `errback` runs once when any node inside fails for good, with an {@link ErrbackInfo}
   * prepended to the errback's own arguments (unless the errback is immutable).
   */
  onError(errback: Signature<unknown, ErrbackInfo> | Signature<unknown, unknown>): this {
    if (!(errback instanceof Signature)) throw new CanvasError('onError() takes a signature (task.s(), task.si() or sig())');
    return this.copy(this.options, [...this.errbacks, errback as Signature<unknown, never>]);
  }

  /** A short description for error messages. */
  protected abstract describe(): string;
  /** A copy of this value with other options and errbacks. */
  protected abstract copy(options: SignatureOptions, errbacks: readonly Signature<unknown, never>[]): this;
}

/** One task invocation: a task name, its arguments, options, and whether it takes its parent's result. */
export class Signature<R = unknown, I = unknown> extends CanvasBase<R, I> {
  /** Discriminant of the canvas union. */
  readonly kind = 'signature' as const;
  readonly task: string;
  readonly args: readonly JsonValue[];
  /** True: ignores the parent's result (made by `si()` or `sig(..., { immutable: true })`). */
  readonly immutable: boolean;

  /** Prefer `task.s()`, `task.si()` or `sig()`. Validates the name, the arguments (JSON only) and options. */
  constructor(task: string, args: readonly unknown[], immutable: boolean, options: SignatureOptions = {}, errbacks: readonly Signature<unknown, never>[] = []) {
    super(options, errbacks);
    if (typeof task !== 'string' || task.length === 0 || task.length > 255) {
      throw new CanvasError(`task name must be a string of 1-255 characters, got ${JSON.stringify(task)}`);
    }
    if (!Array.isArray(args)) throw new CanvasError(`arguments of ${task} must be an array`);
    assertJson(args, `${task}.args`);
    this.task = task;
    this.args = Object.freeze([...args]) as readonly JsonValue[];
    this.immutable = immutable;
  }

  protected describe(): string {
    return `sig(${this.task})`;
  }

  protected copy(options: SignatureOptions, errbacks: readonly Signature<unknown, never>[]): this {
    return new Signature(this.task, this.args, this.immutable, options, errbacks) as this;
  }
}

/** Steps that run in order, each receiving the previous step's result. */
export class Chain<R = unknown, I = unknown> extends CanvasBase<R, I> {
  /** Discriminant of the canvas union. */
  readonly kind = 'chain' as const;
  readonly steps: readonly AnyCanvas[];

  /** Prefer `chain()`. */
  constructor(steps: readonly AnyCanvas[], options: SignatureOptions = {}, errbacks: readonly Signature<unknown, never>[] = []) {
    super(options, errbacks);
    if (steps.length === 0) throw new CanvasError('chain() needs at least one step');
    steps.forEach((s, i) => assertCanvas(s, `chain step ${i}`));
    this.steps = Object.freeze([...steps]);
  }

  protected describe(): string {
    return 'chain';
  }

  protected copy(options: SignatureOptions, errbacks: readonly Signature<unknown, never>[]): this {
    return new Chain(this.steps, options, errbacks) as this;
  }
}

/** Members that run in parallel; the result is the array of member results in declaration order. */
export class Group<R = unknown, I = unknown> extends CanvasBase<R, I> {
  /** Discriminant of the canvas union. */
  readonly kind = 'group' as const;
  readonly members: readonly AnyCanvas[];

  /** Prefer `group()`. */
  constructor(members: readonly AnyCanvas[], options: SignatureOptions = {}, errbacks: readonly Signature<unknown, never>[] = []) {
    super(options, errbacks);
    members.forEach((m, i) => assertCanvas(m, `group member ${i}`));
    this.members = Object.freeze([...members]);
  }

  protected describe(): string {
    return 'group';
  }

  protected copy(options: SignatureOptions, errbacks: readonly Signature<unknown, never>[]): this {
    return new Group(this.members, options, errbacks) as this;
  }
}

/** A header group whose result array is passed to a body: the same as `chain(group(header), body)`. */
export class Chord<R = unknown, I = unknown> extends CanvasBase<R, I> {
  /** Discriminant of the canvas union. */
  readonly kind = 'chord' as const;
  readonly header: readonly AnyCanvas[];
  readonly body: AnyCanvas;

  /** Prefer `chord()`. */
  constructor(header: readonly AnyCanvas[], body: AnyCanvas, options: SignatureOptions = {}, errbacks: readonly Signature<unknown, never>[] = []) {
    super(options, errbacks);
    header.forEach((m, i) => assertCanvas(m, `chord header member ${i}`));
    assertCanvas(body, 'chord body');
    this.header = Object.freeze([...header]);
    this.body = body;
  }

  protected describe(): string {
    return 'chord';
  }

  protected copy(options: SignatureOptions, errbacks: readonly Signature<unknown, never>[]): this {
    return new Chord(this.header, this.body, options, errbacks) as this;
  }
}

/** Any canvas value, whatever its types: the top type of all canvases. */
export type AnyCanvas = Signature<unknown, never> | Chain<unknown, never> | Group<unknown, never> | Chord<unknown, never>;

/** A canvas whose result is `R` and which takes input `I`. */
export type Canvas<R = unknown, I = unknown> = Signature<R, I> | Chain<R, I> | Group<R, I> | Chord<R, I>;

/** Whether a value is a canvas (signature, chain, group or chord). */
export function isCanvas(value: unknown): value is AnyCanvas {
  return value instanceof Signature || value instanceof Chain || value instanceof Group || value instanceof Chord;
}

function assertCanvas(value: unknown, where: string): void {
  if (!isCanvas(value)) throw new CanvasError(`${where} is not a canvas (signature, chain, group or chord)`);
}

/** Converts `.set()` options to their stored form: error classes become names. */
export function storedOptions(options: TaskOptions): SignatureOptions {
  const { autoretryFor, ...rest } = options;
  const out: SignatureOptions = { ...rest };
  if (autoretryFor !== undefined) out.autoretryFor = autoretryFor.map((m: ErrorMatcher) => (typeof m === 'string' ? m : m.name));
  return out;
}
