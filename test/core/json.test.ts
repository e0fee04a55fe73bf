/**
 * src/core/json.ts: every non-JSON kind of RELIABILITY §5 row 5 is refused with a SerializationError naming
 * its path; depth, size and `__proto__` limits; deep inputs never overflow the stack (D11).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { assertJson, assertJsonSize, cloneJson, DEFAULT_MAX_JSON_DEPTH, encodeJson, parseJson } from '../../src/core/json.js';
import { SerializationError } from '../../src/core/errors.js';

class Money {
  constructor(readonly cents: number) {}
}

function refusal(fn: () => void): SerializationError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof SerializationError, `expected a SerializationError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a SerializationError');
}

function cyclic(): unknown {
  const o: Record<string, unknown> = { ok: 1 };
  o.self = o;
  return o;
}

function nestedArrays(levels: number): unknown {
  let v: unknown = 0;
  for (let i = 0; i < levels; i++) v = [v];
  return v;
}

describe('assertJson', () => {
  // [kind, value, where inside `{ a: [1, { b: value }] }` the error must point, words the message must hold]
  const kinds: Array<[string, () => unknown, string, RegExp]> = [
    ['undefined', () => undefined, 'args.a[1].b', /undefined/],
    ['NaN', () => NaN, 'args.a[1].b', /NaN/],
    ['Infinity', () => Infinity, 'args.a[1].b', /Infinity/],
    ['-Infinity', () => -Infinity, 'args.a[1].b', /-Infinity/],
    ['BigInt', () => 10n, 'args.a[1].b', /BigInt/],
    ['symbol', () => Symbol('s'), 'args.a[1].b', /symbol/],
    ['function', () => () => 1, 'args.a[1].b', /function/],
    ['Date', () => new Date(0), 'args.a[1].b', /Date/],
    ['Map', () => new Map([[1, 2]]), 'args.a[1].b', /Map/],
    ['Set', () => new Set([1]), 'args.a[1].b', /Set/],
    ['class instance', () => new Money(5), 'args.a[1].b', /Money/],
    ['boxed number', () => new Number(1), 'args.a[1].b', /Number/],
    ['sparse array', () => [1, , 3], 'args.a[1].b[1]', /sparse/],
    ['cycle', cyclic, 'args.a[1].b.self', /circular/],
    ['over-deep nesting', () => nestedArrays(DEFAULT_MAX_JSON_DEPTH), 'args.a[1].b' + '[0]'.repeat(DEFAULT_MAX_JSON_DEPTH - 3), /deeper than 128/],
    ['__proto__ key', () => JSON.parse('{"__proto__": {"admin": true}}'), 'args.a[1].b.__proto__', /__proto__/],
    ['symbol key', () => ({ [Symbol('k')]: 1 }), 'args.a[1].b', /symbol keys/],
  ];

  for (const [kind, make, path, words] of kinds) {
    test(`refuses ${kind}, naming its path`, () => {
      const err = refusal(() => assertJson({ a: [1, { b: make() }] }, 'args'));
      assert.equal(err.path, path);
      assert.match(err.message, words);
      assert.ok(err.message.startsWith(`${path}: `), err.message);
      assert.equal(err.code, 'SERIALIZATION');
    });
  }

  test('names the first bad value in order, after nested ones', () => {
    assert.equal(refusal(() => assertJson([1, { a: [true, { b: undefined }] }, NaN], 'args')).path, 'args[1].a[1].b');
    assert.equal(refusal(() => assertJson({ x: [1, 2], y: { z: [null, () => 1] } }, 'r')).path, 'r.y.z[1]');
    assert.equal(refusal(() => assertJson([[1], [2, [3, Symbol('s')]]], 'a')).path, 'a[1][1][1]');
  });

  test('names keys that are not identifiers in brackets', () => {
    assert.equal(refusal(() => assertJson({ 'a b': { 'c"d': undefined } }, 'result')).path, 'result["a b"]["c\\"d"]');
  });

  test('refuses a bad value at the top', () => {
    assert.equal(refusal(() => assertJson(undefined, 'result')).path, 'result');
    assert.equal(refusal(() => assertJson(new Date(), 'args')).path, 'args');
  });

  test('accepts plain JSON, null-prototype objects and shared (acyclic) references', () => {
    const shared = { x: [1, 2] };
    for (const v of [null, true, false, 0, -0, 1.5, -1e308, '', 'text', [], {}, [null, [{ a: 'b' }]], Object.create(null), { l: shared, r: shared }]) {
      assertJson(v, 'v');
    }
  });

  test('depth: 128 nested levels pass, 129 are refused', () => {
    assertJson(nestedArrays(DEFAULT_MAX_JSON_DEPTH), 'v');
    refusal(() => assertJson(nestedArrays(DEFAULT_MAX_JSON_DEPTH + 1), 'v'));
    refusal(() => assertJson(nestedArrays(3), 'v', 2));
  });

  test('a 100,000-deep array is refused without a stack overflow', () => {
    const deep = nestedArrays(100_000);
    assert.throws(() => JSON.stringify(deep), RangeError, 'the trap this guards against (D11)');
    const err = refusal(() => assertJson(deep, 'args'));
    assert.match(err.message, /deeper than/);
    assert.throws(() => encodeJson(deep, 'args', { maxDepth: 128, maxBytes: 1 << 20 }), SerializationError);
  });

  test('a wide value is checked without recursion limits', () => {
    assertJson(Array.from({ length: 200_000 }, (_, i) => ({ i })), 'wide');
  });
});

describe('encodeJson', () => {
  test('returns the JSON text', () => {
    assert.equal(encodeJson({ a: [1, 'x', null] }, 'v', { maxDepth: 10, maxBytes: 100 }), '{"a":[1,"x",null]}');
  });

  test('refuses over maxBytes, counting bytes not characters', () => {
    const text = 'é'.repeat(10); // "..." is 22 bytes, 12 characters
    assert.equal(encodeJson(text, 'v', { maxDepth: 10, maxBytes: 22 }), JSON.stringify(text));
    const err = refusal(() => encodeJson(text, 'result', { maxDepth: 10, maxBytes: 21 }));
    assert.equal(err.path, 'result');
    assert.match(err.message, /22 bytes/);
  });

  test('counts bytes of characters that take 4 bytes (surrogate pairs) and 3 bytes', () => {
    const text = '😀'.repeat(5) + '€'.repeat(5); // 20 + 15 bytes + 2 quotes = 37 bytes, 17 code units
    assert.equal(encodeJson(text, 'v', { maxDepth: 10, maxBytes: 37 }), JSON.stringify(text));
    assert.match(refusal(() => encodeJson(text, 'v', { maxDepth: 10, maxBytes: 36 })).message, /37 bytes/);
  });

  test('checks the value before encoding it', () => {
    assert.equal(refusal(() => encodeJson({ when: new Date() }, 'args', { maxDepth: 10, maxBytes: 1000 })).path, 'args.when');
  });
});

describe('assertJsonSize', () => {
  test('measures exactly when the bound is over the limit, so a value at the limit passes', () => {
    const args = ['a'.repeat(100), 12345, { k: 'é' }];
    const bytes = Buffer.byteLength(JSON.stringify(args));
    assertJsonSize(args, 'args', { maxDepth: 10, maxBytes: bytes });
    const err = refusal(() => assertJsonSize(args, 'args', { maxDepth: 10, maxBytes: bytes - 1 }));
    assert.equal(err.path, 'args');
    assert.match(err.message, new RegExp(`${bytes} bytes`));
  });

  test('checks the value like assertJson', () => {
    assert.equal(refusal(() => assertJsonSize([1, { d: new Date() }], 'args', { maxDepth: 10, maxBytes: 1000 })).path, 'args[1].d');
  });
});

describe('parseJson', () => {
  test('parses plain JSON', () => {
    assert.deepEqual(parseJson('{"a":[1,{"b":null}]}'), { a: [1, { b: null }] });
  });

  test('refuses __proto__ keys anywhere, so parsed data never reaches a prototype', () => {
    refusal(() => parseJson('{"__proto__":{"polluted":true}}'));
    refusal(() => parseJson('{"a":[{"b":{"__proto__":1}}]}'));
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  test('refuses a __proto__ key spelled with \\u escapes', () => {
    refusal(() => parseJson('{"\\u005f_proto__":{"polluted":true}}'));
    refusal(() => parseJson('{"a":{"__pr\\u006fto__":1}}'));
    assert.deepEqual(parseJson('{"a":"\\u00e9","__proto":1}'), { a: 'é', __proto: 1 });
  });

  test('invalid text is a SyntaxError', () => {
    assert.throws(() => parseJson('{"a":'), SyntaxError);
  });
});

describe('cloneJson', () => {
  test('copies deeply; undefined passes through', () => {
    const v = { a: [{ b: 1 }] };
    const c = cloneJson(v);
    assert.deepEqual(c, v);
    assert.notEqual(c.a, v.a);
    assert.equal(cloneJson(undefined), undefined);
  });
});
