/**
 * Plain JSON values and the checks that keep anything else out (RELIABILITY D11, §5 rows 4-5).
 * Arguments are checked when a signature is made, results when a task returns; both are measured before
 * they are stored. Parsing refuses `__proto__` keys so stored data can never reach a prototype.
 */
import { SerializationError } from './errors.js';

/** A plain JSON value: what task arguments and results may be. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Size and depth bounds applied to JSON values. */
export interface JsonLimits {
  /** Deepest nesting allowed (default 128). */
  maxDepth: number;
  /** Largest encoded size in bytes. */
  maxBytes: number;
}

/** Default depth bound for every JSON value (RELIABILITY §5 limits). */
export const DEFAULT_MAX_JSON_DEPTH = 128;

/**
 * Throws {@link SerializationError} naming the path of the first value that is not plain JSON: undefined,
 * NaN, ±Infinity, BigInt, symbols, functions, Date, Map, Set, class instances, sparse arrays, cycles,
 * `__proto__` keys, or nesting deeper than `maxDepth`. Iterative, so a 100,000-deep array cannot blow the stack.
 * Values are visited depth first in order; a path string is only built for the value refused.
 */
export function assertJson(value: unknown, path: string, maxDepth = DEFAULT_MAX_JSON_DEPTH): asserts value is JsonValue {
  walkJson(value, path, maxDepth);
}

/**
 * Checks a value like {@link assertJson} and that its JSON text is at most `maxBytes` long, without encoding it
 * when a bound on its size computed during the check is within the limit (arguments are stored, not sent, here).
 */
export function assertJsonSize(value: unknown, path: string, limits: JsonLimits): asserts value is JsonValue {
  if (walkJson(value, path, limits.maxDepth) <= limits.maxBytes) return;
  const bytes = Buffer.byteLength(JSON.stringify(value));
  if (bytes > limits.maxBytes) throw new SerializationError(path, `${bytes} bytes is over the limit of ${limits.maxBytes} bytes`);
}

/** The walk behind {@link assertJson}; returns an upper bound of the UTF-8 bytes of the value's JSON text. */
function walkJson(value: unknown, path: string, maxDepth: number): number {
  const leaf = leafBound(value, path, noFrames);
  if (leaf >= 0) return leaf;
  const frames: Frame[] = [];
  let bound = enter(value as object, path, frames, maxDepth);
  while (frames.length > 0) {
    const frame = frames[frames.length - 1]!;
    const at = frame.next;
    if (at >= frame.length) {
      frames.pop();
      continue;
    }
    frame.next = at + 1;
    let child: unknown;
    if (frame.keys === null) child = (frame.value as unknown[])[at];
    else {
      const key = frame.keys[at]!;
      child = (frame.value as Record<string, unknown>)[key];
      bound += stringBound(key) + 1;
    }
    const size = leafBound(child, path, frames);
    if (size >= 0) {
      bound += size;
      continue;
    }
    for (const up of frames) {
      if (up.value === child) throw new SerializationError(pathOf(path, frames), 'circular reference');
    }
    bound += enter(child as object, path, frames, maxDepth);
  }
  return bound;
}

/** One container being walked: its children are visited in order, `next` is the one to visit next. */
interface Frame {
  value: object;
  /** Own enumerable keys of an object; null for an array. */
  keys: string[] | null;
  length: number;
  next: number;
}

const noFrames: Frame[] = [];

/**
 * For a valid primitive, a bound on its JSON bytes; throws for an invalid one; -1 for an object, which the caller
 * walks. The path of the value is that of the last frame's previous child (or the root when there is no frame).
 */
function leafBound(v: unknown, root: string, frames: Frame[]): number {
  if (typeof v === 'string') return stringBound(v);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new SerializationError(pathOf(root, frames), `${String(v)} is not a JSON number`);
    return MAX_NUMBER_CHARS;
  }
  if (v === null || typeof v === 'boolean') return 5;
  if (typeof v !== 'object') throw new SerializationError(pathOf(root, frames), `${describe(v)} is not a JSON value`);
  return -1;
}

/** Longest text of a finite number, e.g. `-1.2345678901234567e-123`. */
const MAX_NUMBER_CHARS = 25;

/** A code unit is at most 6 bytes in JSON (`\uXXXX`), plus the quotes. */
function stringBound(s: string): number {
  return 2 + 6 * s.length;
}

/**
 * Checks an object value (depth, holes, prototype, symbol and `__proto__` keys) and pushes its frame. Returns the
 * bytes of its brackets and separators.
 */
function enter(v: object, root: string, frames: Frame[], maxDepth: number): number {
  if (frames.length >= maxDepth) throw new SerializationError(pathOf(root, frames), `nested deeper than ${maxDepth} levels`);
  if (Array.isArray(v)) {
    for (let i = v.length - 1; i >= 0; i--) {
      if (!(i in v)) throw new SerializationError(`${pathOf(root, frames)}[${i}]`, 'sparse array hole is not a JSON value');
    }
    frames.push({ value: v, keys: null, length: v.length, next: 0 });
    return 2 + v.length;
  }
  const proto: unknown = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) {
    throw new SerializationError(pathOf(root, frames), `${describe(v)} is not a plain object; pass ids, not objects`);
  }
  if (Object.getOwnPropertySymbols(v).length > 0) throw new SerializationError(pathOf(root, frames), 'symbol keys are not JSON');
  const keys = Object.keys(v);
  if (keys.includes('__proto__')) throw new SerializationError(`${pathOf(root, frames)}.__proto__`, '__proto__ keys are refused');
  frames.push({ value: v, keys, length: keys.length, next: 0 });
  return 2 + keys.length;
}

/** The path of the value last taken from the innermost frame (the root itself when there is no frame). */
function pathOf(root: string, frames: readonly Frame[]): string {
  let path = root;
  for (const frame of frames) {
    const at = frame.next - 1;
    path += frame.keys === null ? `[${at}]` : propertyPath(frame.keys[at]!);
  }
  return path;
}

/**
 * Checks a value with {@link assertJson}, encodes it and refuses it when the encoding is over `maxBytes`.
 * @returns the JSON text.
 */
export function encodeJson(value: unknown, path: string, limits: JsonLimits): string {
  assertJson(value, path, limits.maxDepth);
  const text = JSON.stringify(value);
  // A UTF-16 code unit is at most 3 UTF-8 bytes: short texts need no byte count.
  if (text.length * 3 <= limits.maxBytes) return text;
  const bytes = Buffer.byteLength(text);
  if (bytes > limits.maxBytes) {
    throw new SerializationError(path, `${bytes} bytes is over the limit of ${limits.maxBytes} bytes`);
  }
  return text;
}

/**
 * Parses JSON text, refusing `__proto__` keys anywhere in it (inv 10). Throws SyntaxError or SerializationError.
 * A text that spells neither `__proto__` nor a `\u` escape (the only way JSON can write such a key otherwise)
 * cannot hold one and is parsed without a reviver.
 */
export function parseJson(text: string): JsonValue {
  if (!text.includes('__proto__') && !text.includes('\\u')) return JSON.parse(text) as JsonValue;
  return JSON.parse(text, (key, value: unknown) => {
    if (key === '__proto__') throw new SerializationError('$', '__proto__ keys are refused');
    return value;
  }) as JsonValue;
}

/** A deep copy of a JSON value (values read back are never shared with the caller's objects). */
export function cloneJson<T extends JsonValue | undefined>(value: T): T {
  return value === undefined ? value : (structuredClone(value) as T);
}

function propertyPath(key: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'bigint') return 'a BigInt';
  if (typeof value === 'symbol') return 'a symbol';
  if (typeof value === 'function') return 'a function';
  if (value instanceof Date) return 'a Date';
  if (value instanceof Map) return 'a Map';
  if (value instanceof Set) return 'a Set';
  const ctor = (value as { constructor?: { name?: unknown } }).constructor;
  return typeof ctor?.name === 'string' && ctor.name ? `an instance of ${ctor.name}` : 'an object';
}
