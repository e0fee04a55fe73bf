/**
 * fast-check arbitraries for random canvases (nesting up to a depth, empty groups and headers, immutable
 * steps, errbacks, options), and the pure task world the property tests run them in.
 */
import fc from 'fast-check';
import { Chain, Chord, Group, Signature, type AnyCanvas } from '../../src/canvas/values.js';
import type { ReferenceOutcome } from '../../src/canvas/reference.js';
import type { JsonValue } from '../../src/core/json.js';

export interface CanvasArbOptions {
  /** Deepest nesting of chain/group/chord (default 4). */
  maxDepth?: number;
  /** Attach random `onError` errbacks (default true). */
  errbacks?: boolean;
  /** Set random options with `.set()` (default true). */
  options?: boolean;
}

const argArb: fc.Arbitrary<JsonValue> = fc.oneof(fc.integer({ min: -9, max: 9 }), fc.constantFrom('x', 'y', null, true));

const sigArb = fc.record({
  task: fc.constantFrom('t.a', 't.b', 't.c'),
  args: fc.array(argArb, { maxLength: 2 }),
  immutable: fc.boolean(),
}).map(({ task, args, immutable }) => new Signature(task, args, immutable));

function decorate(arb: fc.Arbitrary<AnyCanvas>, opts: Required<CanvasArbOptions>): fc.Arbitrary<AnyCanvas> {
  return fc.tuple(
    arb,
    opts.errbacks ? fc.option(fc.record({ task: fc.constantFrom('eb.a', 'eb.b'), immutable: fc.boolean() }), { freq: 5 }) : fc.constant(null),
    opts.options ? fc.option(fc.constantFrom('q1', 'q2', 'q3'), { freq: 3 }) : fc.constant(null),
  ).map(([c, eb, queue]) => {
    let out = c;
    if (queue !== null) out = out.set({ queue });
    if (eb !== null) out = out.onError(new Signature(eb.task, [], eb.immutable));
    return out;
  });
}

/** Random canvases up to `maxDepth` levels of nesting. */
export function canvasArb(options: CanvasArbOptions = {}): fc.Arbitrary<AnyCanvas> {
  const opts: Required<CanvasArbOptions> = { maxDepth: 4, errbacks: true, options: true, ...options };
  let level: fc.Arbitrary<AnyCanvas> = decorate(sigArb, opts);
  for (let d = 0; d < opts.maxDepth; d++) {
    const sub = level;
    level = decorate(fc.oneof(
      { arbitrary: sigArb, weight: 2 },
      { arbitrary: fc.array(sub, { minLength: 1, maxLength: 3 }).map((steps) => new Chain(steps)), weight: 2 },
      { arbitrary: fc.array(sub, { maxLength: 3 }).map((members) => new Group(members)), weight: 2 },
      { arbitrary: fc.tuple(fc.array(sub, { maxLength: 3 }), sub).map(([header, body]) => new Chord(header, body)), weight: 1 },
    ), opts);
  }
  return level;
}

/** A small deterministic fingerprint of a task call: distinct inputs give distinct results. */
export function taskResult(task: string, args: readonly JsonValue[]): JsonValue {
  const text = JSON.stringify([task, args]);
  let h = 5381;
  for (let i = 0; i < text.length; i++) h = ((h * 33) ^ text.charCodeAt(i)) >>> 0;
  return `${task}#${h.toString(36)}`;
}

/** The pure task world: nodes in `failing` fail for good, every other call returns its fingerprint. */
export function world(failing: ReadonlySet<string>): (task: string, args: JsonValue[], nodeId: string) => ReferenceOutcome {
  return (task, args, nodeId) => (failing.has(nodeId) ? { error: `${nodeId} fails` } : { ok: taskResult(task, args) });
}
