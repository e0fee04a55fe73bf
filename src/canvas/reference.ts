/**
 * The reference evaluator: what a canvas must produce, worked out straight from the canvas tree by the
 * semantics of API.md, without the compiler or any runtime. Tests run the same canvas through the real
 * runtime and compare. Node ids follow the compiler's rule (depth-first declaration order) so outcomes can be
 * compared node by node.
 */
import type { JsonValue } from '../core/json.js';
import { Chain, Chord, Group, Signature, type AnyCanvas } from './values.js';

/** How one task invocation ends in the reference world. */
export type ReferenceOutcome = { ok: JsonValue } | { error: string };

/** The expected end state of one node. */
export type ReferenceNodeState = 'succeeded' | 'failed' | 'blocked';

/** What the runtime must end with for a canvas. */
export interface ReferenceResult {
  state: 'succeeded' | 'failed';
  result?: JsonValue;
  nodes: Map<string, { task: string; state: ReferenceNodeState; args: JsonValue[]; result?: JsonValue }>;
  /** For each `onError` (in compile order), whether some node inside it failed, so the errback runs once. */
  errbacksFired: boolean[];
}

type Value = { has: false } | { has: true; value: JsonValue };

/**
 * Evaluates a canvas. `run(task, args, nodeId)` says how each invocation ends (after any retries).
 * Recursive by design: it is a specification, used on test-sized canvases.
 */
export function evaluateReference(canvas: AnyCanvas, run: (task: string, args: JsonValue[], nodeId: string) => ReferenceOutcome, idPrefix = 'n'): ReferenceResult {
  const nodes: ReferenceResult['nodes'] = new Map();
  const errbacksFired: boolean[] = [];
  let counter = 0;

  /** Returns the item's value, or undefined when it failed or was blocked. `failed` is set on any failure inside. */
  const evalItem = (c: AnyCanvas, input: Value, upstreamOk: boolean): { ok: boolean; value?: JsonValue } => {
    const errbackIndexes = c.errbacks.map(() => errbacksFired.push(false) - 1);
    const before = failures;
    const out = evalInner(c, input, upstreamOk);
    if (failures > before) for (const i of errbackIndexes) errbacksFired[i] = true;
    return out;
  };

  let failures = 0;
  const evalInner = (c: AnyCanvas, input: Value, upstreamOk: boolean): { ok: boolean; value?: JsonValue } => {
    if (c instanceof Signature) {
      const id = `${idPrefix}${counter++}`;
      const args = [...c.args];
      if (!upstreamOk) {
        nodes.set(id, { task: c.task, state: 'blocked', args });
        return { ok: false };
      }
      const callArgs = !c.immutable && input.has ? [input.value, ...args] : args;
      const outcome = run(c.task, callArgs, id);
      if ('ok' in outcome) {
        nodes.set(id, { task: c.task, state: 'succeeded', args, result: outcome.ok });
        return { ok: true, value: outcome.ok };
      }
      failures++;
      nodes.set(id, { task: c.task, state: 'failed', args });
      return { ok: false };
    }
    if (c instanceof Chain) {
      let value = input;
      let ok = upstreamOk;
      for (const step of c.steps) {
        const out = evalItem(step, value, ok);
        ok = ok && out.ok;
        value = out.ok ? { has: true, value: out.value! } : { has: false };
      }
      return ok ? { ok, value: (value as { value: JsonValue }).value } : { ok: false };
    }
    if (c instanceof Group) return evalGroup(c.members, input, upstreamOk);
    if (c instanceof Chord) {
      const header = evalGroup(c.header, input, upstreamOk);
      return evalItem(c.body, header.ok ? { has: true, value: header.value! } : { has: false }, header.ok);
    }
    throw new Error('not a canvas');
  };

  const evalGroup = (members: readonly AnyCanvas[], input: Value, upstreamOk: boolean): { ok: boolean; value?: JsonValue } => {
    const values: JsonValue[] = [];
    let ok = upstreamOk;
    for (const m of members) {
      const out = evalItem(m, input, upstreamOk);
      if (out.ok) values.push(out.value!);
      else ok = false;
    }
    return ok ? { ok, value: values } : { ok: false };
  };

  const top = evalItem(canvas, { has: false }, true);
  return top.ok
    ? { state: 'succeeded', result: top.value!, nodes, errbacksFired }
    : { state: 'failed', nodes, errbacksFired };
}
