/**
 * The JSON text of a node's spec, as `JSON.stringify(spec)` writes it (the same bytes), without walking the
 * parts most nodes of a graph share: a chord's header nodes differ only in id and arguments, and their options,
 * input, errbacks and dispatch are the same objects (compile and the registry share them). Those parts are
 * written once per run of nodes that share them, the rest node by node.
 */
import type { NodeSpec } from '../store.js';

/** The keys of a spec as compile and buildStoredGraph make it, in their order (JSON.stringify writes them so). */
const SPEC_KEYS = ['id', 'task', 'args', 'options', 'deps', 'input', 'errbacks', 'dispatch'] as const;

/** True when `spec`'s enumerable keys are exactly {@link SPEC_KEYS}, in that order. */
function hasSpecKeys(spec: object): boolean {
  let i = 0;
  for (const key in spec) {
    if (key !== SPEC_KEYS[i]) return false;
    i += 1;
  }
  return i === SPEC_KEYS.length;
}

/** `JSON.stringify` of a value that is written as a key's value (`undefined` when it would drop the key). */
function valueText(value: unknown): string | undefined {
  return JSON.stringify(value) as string | undefined;
}

/**
 * Writes the spec texts of one graph's nodes, in any order. It remembers the shared tail of the last node it
 * wrote (options to dispatch), so it must only see specs that are not changed while it is in use.
 */
export class SpecTexts {
  private options: unknown = undefined;
  private depsText = '';
  private input: unknown = undefined;
  private errbacks: unknown = undefined;
  private dispatch: unknown = undefined;
  /** `,"options":…,"deps":…,"input":…,"errbacks":…,"dispatch":…}` of the fields above; '' before the first. */
  private tail = '';
  private task = '';
  private taskText = '';

  /**
   * The text of `spec`, equal to `JSON.stringify(spec)`; `depsText` is `JSON.stringify(spec.deps)`, which the
   * caller has already (it is a slot of its own).
   */
  text(spec: NodeSpec, depsText: string): string {
    if (typeof spec.id !== 'string' || typeof spec.task !== 'string' || !Array.isArray(spec.args) || !hasSpecKeys(spec)) return JSON.stringify(spec);
    const args = JSON.stringify(spec.args);
    const tail = this.tailOf(spec, depsText);
    if (tail === undefined) return JSON.stringify(spec);
    if (spec.task !== this.task || this.taskText === '') {
      this.task = spec.task;
      this.taskText = JSON.stringify(spec.task);
    }
    return `{"id":${JSON.stringify(spec.id)},"task":${this.taskText},"args":${args}${tail}`;
  }

  /** The text after the arguments, reused while the fields it writes are those of the last node. */
  private tailOf(spec: NodeSpec, depsText: string): string | undefined {
    if (this.tail !== '' && spec.options === this.options && depsText === this.depsText && spec.input === this.input &&
      spec.errbacks === this.errbacks && spec.dispatch === this.dispatch) return this.tail;
    const options = valueText(spec.options);
    const input = valueText(spec.input);
    const errbacks = valueText(spec.errbacks);
    const dispatch = valueText(spec.dispatch);
    if (options === undefined || input === undefined || errbacks === undefined || dispatch === undefined) return undefined;
    this.options = spec.options;
    this.depsText = depsText;
    this.input = spec.input;
    this.errbacks = spec.errbacks;
    this.dispatch = spec.dispatch;
    this.tail = `,"options":${options},"deps":${depsText},"input":${input},"errbacks":${errbacks},"dispatch":${dispatch}}`;
    return this.tail;
  }
}
