/**
 * `createApp` refuses bad options at once with ConfigError (API.md "Errors"), before anything connects: a bad
 * prefix, a retention or result poll that is not a whole, positive number of ms (a poll past Node's timer limit
 * would fire at once, over and over), eager mode on a remote server. Good values pass.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { ConfigError, createApp, type AppOptions } from '../../src/index.js';

const quiet = { logger: pino({ level: 'silent' }) };

describe('createApp options', () => {
  test('a bad retentionMs or resultPollMs is a ConfigError naming the option', () => {
    const bad: Array<[keyof AppOptions, unknown]> = [
      ['retentionMs', 0], ['retentionMs', -1], ['retentionMs', 1.5], ['retentionMs', Number.NaN], ['retentionMs', Number.POSITIVE_INFINITY], ['retentionMs', '1000'],
      ['resultPollMs', 0], ['resultPollMs', -5], ['resultPollMs', 2 ** 31], ['resultPollMs', 0.5],
    ];
    for (const [key, value] of bad) {
      assert.throws(() => createApp({ ...quiet, [key]: value } as AppOptions), (error: unknown) => {
        assert.ok(error instanceof ConfigError, `${key}=${String(value)}: ${String(error)}`);
        assert.match(error.message, new RegExp(key));
        return true;
      });
    }
  });

  test('good durations pass, and so does leaving them out', async () => {
    for (const options of [{}, { retentionMs: 1 }, { retentionMs: 30 * 24 * 3600 * 1000 }, { resultPollMs: 50 }, { resultPollMs: 2 ** 31 - 1 }]) {
      const app = createApp({ ...quiet, ...options });
      await app.close();
    }
  });

  test('a bad prefix and eager mode on a remote server are ConfigErrors', () => {
    for (const prefix of ['', 'a b', 'x'.repeat(65), 'a:b', '{tag}']) {
      assert.throws(() => createApp({ ...quiet, prefix }), ConfigError, JSON.stringify(prefix));
    }
    assert.throws(() => createApp({ ...quiet, eager: true, broker: 'redis://127.0.0.1:6379' }), ConfigError);
  });
});
