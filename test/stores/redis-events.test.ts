/**
 * parseEvent (src/stores/redis/events.ts): what the store's scripts PUBLISH becomes a StoreEvent; a succeeded
 * settle's result is the raw JSON text as stored, sliced out unparsed; anything else malformed is null.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseEvent } from '../../src/stores/redis/events.js';

describe('redis store events: parseEvent', () => {
  test('a succeeded settle with its result: the raw text, byte for byte', () => {
    for (const raw of ['1', '[]', '{"a":"}","b":[{}]}', '"é😀\\u0000\\"}"', '1.0000000000000002', '{"__proto__":{"x":1}}']) {
      assert.deepEqual(parseEvent(`{"type":"settled","workflowId":"wf-1.a:b_c","state":"succeeded","result":${raw}}`),
        { type: 'settled', workflowId: 'wf-1.a:b_c', state: 'succeeded', result: raw });
    }
  });

  test('settles without a result, cancels, and results the scripts never publish are dropped', () => {
    assert.deepEqual(parseEvent('{"type":"settled","workflowId":"w","state":"succeeded"}'), { type: 'settled', workflowId: 'w', state: 'succeeded' });
    assert.deepEqual(parseEvent('{"type":"settled","workflowId":"w","state":"failed"}'), { type: 'settled', workflowId: 'w', state: 'failed' });
    assert.deepEqual(parseEvent('{"type":"canceled","workflowId":"w"}'), { type: 'canceled', workflowId: 'w' });
    assert.deepEqual(parseEvent('{"type":"settled","workflowId":"w","state":"failed","result":1}'), { type: 'settled', workflowId: 'w', state: 'failed' });
    assert.deepEqual(parseEvent('{"type":"settled","result":1,"workflowId":"w","state":"succeeded"}'), { type: 'settled', workflowId: 'w', state: 'succeeded' });
  });

  test('malformed events are null', () => {
    for (const text of ['', 'null', '[]', '{"type":"settled","workflowId":"w","state":"done"}', '{"type":"settled","workflowId":1,"state":"succeeded"}',
      '{"type":"other","workflowId":"w"}', '{"type":"settled","workflowId":"w","state":"succeeded","result":1']) {
      assert.equal(parseEvent(text), null, text);
    }
  });
});
