/**
 * `braid demo` as a new user runs it (`npm run demo` is the same command), with stdout not a TTY: it shows a
 * retry, a failure, a replay that re-runs only what failed, the final result and the graph, in plain text,
 * and exits 0.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from './run-cli.js';

test('braid demo shows a retry, a failure, a replay and the result, then exits 0', { timeout: 60_000 }, async () => {
  const { code, stdout, stderr } = await runCli(['demo']);
  assert.equal(code, 0, `exit code ${code}; stderr: ${stderr}`);
  // the retry: the charge timed out once and was retried with backoff, charging once thanks to the key
  assert.match(stdout, /payments\.charge: 2 attempts \(GatewayTimeout, retried with backoff\), 1 charge at the gateway/);
  // the failure: gift-wrap failed for good, confirm was blocked, result() rejected
  assert.match(stdout, /WorkflowFailedError: workflow order-A-1001 failed: giftwrap\.wrap \(n8\) ServiceUnavailable/);
  assert.match(stdout, /✗ failed\s+giftwrap\.wrap/);
  assert.match(stdout, /⊘ blocked\s+email\.confirm/);
  assert.match(stdout, /errback: ops\.alert ran once/);
  // the replay: only the failed and blocked nodes ran again
  assert.match(stdout, /app\.replay\(id\)/);
  assert.match(stdout, /re-ran: giftwrap\.wrap \(n8\), email\.confirm \(n9\)\n/);
  assert.match(stdout, /kept, not run again: n0, n1, n2, n3, n4, n5, n6, n7 /);
  // the result and the graph
  assert.match(stdout, /\{"sentTo":"ada@example\.com","tracking":"1Z999AA10123456784","giftWrap":"blue, with a bow"\}/);
  assert.match(stdout, /flowchart TD/);
  // plain text: no colours or cursor movement when stdout is not a TTY
  assert.doesNotMatch(stdout, /\u001b\[/);
});
