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
 */
export function assertJson(value: unknown, path: string, maxDepth = DEFAULT_MAX_JSON_DEPTH): asserts value is JsonValue {
  interface Pending { value: unknown; path: string; depth: number; parent: Pending | undefined }
  const stack: Pending[] = [{ value, path, depth: 0, parent: undefined }];
  while (stack.length > 0) {
    const item = stack.pop()!;
    const { value: v, path: p, depth } = item;
    if (v === null || typeof v === 'string' || typeof v === 'boolean') continue;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw new SerializationError(p, `${String(v)} is not a JSON number`);
      continue;
    }
    if (typeof v !== 'object') throw new SerializationError(p, `${describe(v)} is not a JSON value`);
    for (let up = item.parent; up; up = up.parent) {
      if (up.value === v) throw new SerializationError(p, 'circular reference');
    }
    if (depth >= maxDepth) throw new SerializationError(p, `nested deeper than ${maxDepth} levels`);
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) {
        if (!(i in v)) throw new SerializationError(`${p}[${i}]`, 'sparse array hole is not a JSON value');
        stack.push({ value: v[i], path: `${p}[${i}]`, depth: depth + 1, parent: item });
      }
      continue;
    }
    const proto: unknown = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) {
      throw new SerializationError(p, `${describe(v)} is not a plain object; pass ids, not objects`);
    }
    if (Object.getOwnPropertySymbols(v).length > 0) throw new SerializationError(p, 'symbol keys are not JSON');
    const keys = Object.keys(v);
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i]!;
      if (key === '__proto__') throw new SerializationError(`${p}.__proto__`, '__proto__ keys are refused');
      const child = (v as Record<string, unknown>)[key];
      stack.push({ value: child, path: `${p}${propertyPath(key)}`, depth: depth + 1, parent: item });
    }
  }
}

/**
 * Checks a value with {@link assertJson}, encodes it and refuses it when the encoding is over `maxBytes`.
 * @returns the JSON text.
 */
export function encodeJson(value: unknown, path: string, limits: JsonLimits): string {
  assertJson(value, path, limits.maxDepth);
  const text = JSON.stringify(value);
  const bytes = Buffer.byteLength(text);
  if (bytes > limits.maxBytes) {
    throw new SerializationError(path, `${bytes} bytes is over the limit of ${limits.maxBytes} bytes`);
  }
  return text;
}

/** Parses JSON text, refusing `__proto__` keys anywhere in it (inv 10). Throws SyntaxError or SerializationError. */
export function parseJson(text: string): JsonValue {
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
