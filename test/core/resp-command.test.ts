/**
 * src/core/resp-command.ts: the RESP bytes braid writes for ioredis are exactly those of the protocol for
 * ASCII, non-ASCII, empty and numeric arguments, for one part or several (the store tests send them to Redis).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { respWire } from '../../src/core/resp-command.js';

/** The reference encoding: every argument byte-counted. */
function reference(args: ReadonlyArray<string | number>): Buffer {
  let text = `*${args.length}\r\n`;
  for (const arg of args) text += `$${Buffer.byteLength(String(arg))}\r\n${String(arg)}\r\n`;
  return Buffer.from(text);
}

describe('respWire', () => {
  const cases: Array<Array<string | number>> = [
    ['PING'],
    ['FCALL', 'f', 2, 'k1', 'k2', '', '0', 1234567890, '{"a":[1,2]}'],
    ['FCALL', 'f', 0, 'é', 'x😀y', 'ŁA', '\u00ff', 'a\r\nb'],
    ['SET', 'k', 'a'.repeat(100_000)],
    ['SET', 'k', 'é'.repeat(10_000), 'tail'],
    ['X', ...Array.from({ length: 12_345 }, (_, i) => String(i))],
  ];
  for (const args of cases) {
    test(`${args.length} arguments, ${String(args[0])}`, () => {
      assert.ok(respWire(args).equals(reference(args)));
      assert.ok(respWire(args.slice(0, 1), args.slice(1, 3), args.slice(3)).equals(reference(args)));
    });
  }
});
