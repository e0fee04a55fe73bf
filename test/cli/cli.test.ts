/**
 * The `braid` command line: one-line messages and stable exit codes for every error a user meets first
 * (no store, bad URL scheme, unreachable server, bad workflow id, missing or broken app module, module without
 * an app, unknown workflow), and, on a private redis-server, the worker, status, graph, replay and cancel
 * against workflows another process started. Exit codes: 0 ok, 1 failed, 2 usage, 3 state, 4 unreachable.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { chain, createApp, sig, WorkflowCanceledError, WorkflowFailedError, WorkflowStateError, type App } from '../../src/index.js';
import { EXIT, explain } from '../../src/cli/errors.js';
import { freePort, RedisServer } from '../support/redis-server.js';
import { requireRedis } from '../support/services.js';
import { finished, runCli, startCli, waitForOutput, type CliRun } from './run-cli.js';

const FIXTURES = 'test/cli/fixtures';

function assertOneLine(run: CliRun, code: number, pattern: RegExp): void {
  assert.equal(run.code, code, `exit ${run.code}, expected ${code}; stderr: ${run.stderr}`);
  assert.match(run.stderr, pattern);
  assert.doesNotMatch(run.stderr, /^\s+at /m, 'no stack trace');
}

describe('braid errors without a server', () => {
  test('a command exits once it has printed, whatever timer a library left running', async () => {
    const preload = join(process.cwd(), FIXTURES, 'lingering-timer.cjs');
    const run = await runCli(['--version'], { NODE_OPTIONS: `--require ${preload}` });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^\d+\.\d+\.\d+\n$/);
    assert.equal(run.stderr, '', 'no "still open" notice after a grace period: it exits at once');
  });

  test('status with no store configured says how to give one', async () => {
    assertOneLine(await runCli(['status', 'wf-1']), EXIT.usage, /^braid: no store to connect to: pass --store .* or set BRAID_STORE_URL/m);
  });

  test('an unsupported URL scheme is refused before connecting', async () => {
    assertOneLine(await runCli(['status', 'wf-1', '--store', 'ftp://example.com']), EXIT.usage, /unsupported URL scheme ftp:/);
    assertOneLine(await runCli(['graph', 'wf-1'], { BRAID_STORE_URL: 'not a url' }), EXIT.usage, /not a connection URL/);
  });

  test('an unreachable store is reported within the connect timeout', async () => {
    const port = await freePort();
    const run = await runCli(['status', 'wf-1', '--store', `redis://127.0.0.1:${port}`, '--connect-timeout-ms', '3000']);
    assertOneLine(run, EXIT.unreachable, new RegExp(`^braid: (cannot connect to|no answer from) redis://127\\.0\\.0\\.1:${port}`, 'm'));
  });

  test('a bad workflow id or option is a usage error', async () => {
    assertOneLine(await runCli(['cancel', 'no spaces!', '--store', 'redis://127.0.0.1:1']), EXIT.usage, /workflowId must be 1-128 characters/);
    assertOneLine(await runCli(['graph', 'wf-1', '--format', 'svg']), EXIT.usage, /Allowed choices are mermaid, dot/);
    assertOneLine(await runCli(['worker', '--app', `${FIXTURES}/app.ts`, '-c', 'many']), EXIT.usage, /concurrency/);
  });

  test('replay and worker need a broker other processes share', async () => {
    assertOneLine(await runCli(['replay', 'wf-1', '--store', 'redis://127.0.0.1:1']), EXIT.usage, /no broker to connect to/);
    assertOneLine(await runCli(['worker', '--app', `${FIXTURES}/app.ts`]), EXIT.usage, /no broker to connect to/);
  });

  test('--app: a missing module, a broken one, and one without an app', async () => {
    assertOneLine(await runCli(['worker', '--app', `${FIXTURES}/missing.ts`]), EXIT.usage, /^braid: cannot find the app module test\/cli\/fixtures\/missing\.ts/m);
    assertOneLine(await runCli(['worker', '--app', `${FIXTURES}/broken.ts`]), EXIT.usage, /cannot load the app module .*broken\.ts: Error: this module is broken on purpose/);
    assertOneLine(await runCli(['status', 'wf-1', '--app', `${FIXTURES}/no-app.ts`]), EXIT.usage, /does not export a braid app: export it as the default export or as `app` \(its exports: notAnApp\)/);
  });

  test('errors map to exit codes in one place', () => {
    assert.equal(explain(new WorkflowStateError('x', 'no workflow with id x')).exitCode, EXIT.state);
    assert.equal(explain(new WorkflowFailedError('x', [])).exitCode, EXIT.failed);
    assert.match(explain(new TypeError('boom\nsecond line')).message, /^unexpected error: TypeError: boom \(set BRAID_DEBUG=1/);
  });
});

const redis = await requireRedis();

describe('braid against a redis-server', { skip: redis.skip, timeout: 120_000 }, () => {
  let server: RedisServer;
  let producer: App;
  let dir: string;
  let worker: ReturnType<typeof startCli>;
  const prefix = `cli${process.pid}`;
  const flags = (): string[] => ['--broker', server.url, '--prefix', prefix];

  before(async () => {
    server = await RedisServer.start();
    dir = mkdtempSync(join(tmpdir(), 'braid-cli-'));
    producer = createApp({ broker: server.url, prefix, logger: pino({ level: 'silent' }), resultPollMs: 200 });
    worker = startCli(['worker', '--app', `${FIXTURES}/app.ts`, ...flags(), '-c', '4', '--lease-ms', '3000'], { BRAID_TEST_FIXED: join(dir, 'fixed') });
    await waitForOutput(worker, /braid worker: consuming default/);
  });

  after(async () => {
    if (worker.exitCode === null) worker.kill('SIGKILL');
    await producer?.close();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('status of an unknown workflow exits 3', async () => {
    assertOneLine(await runCli(['status', 'no-such-workflow', ...flags()]), EXIT.state, /^braid: no workflow with id no-such-workflow$/m);
  });

  test('status and graph show a failed workflow; replay --wait re-runs it once fixed', async () => {
    const wf = await producer.start(chain(sig('math.add', [1, 2]), sig('shaky.step')), { workflowId: 'cli-replay' });
    await assert.rejects(wf.result({ timeoutMs: 20_000 }), WorkflowFailedError);

    const status = await runCli(['status', 'cli-replay', ...flags()]);
    assert.equal(status.code, EXIT.ok, status.stderr);
    assert.match(status.stdout, /workflow cli-replay {2}failed/);
    assert.match(status.stdout, /✓ succeeded\s+math\.add\s+n0\s+→ 3/);
    assert.match(status.stdout, /✗ failed\s+shaky\.step\s+n1\s+.*Error: not fixed yet/);

    const json = await runCli(['status', 'cli-replay', '--json', '--store', server.url, '--prefix', prefix]);
    assert.equal(JSON.parse(json.stdout).state, 'failed');
    const mermaid = await runCli(['graph', 'cli-replay', ...flags()]);
    assert.match(mermaid.stdout, /^flowchart TD\n/);
    assert.match(mermaid.stdout, /n_n0 --> n_n1/);
    const dot = await runCli(['graph', 'cli-replay', '--format', 'dot', ...flags()]);
    assert.match(dot.stdout, /^digraph "cli-replay" \{/);

    writeFileSync(join(dir, 'fixed'), '');
    const replay = await runCli(['replay', 'cli-replay', '--wait', ...flags()]);
    assert.equal(replay.code, EXIT.ok, replay.stderr);
    assert.match(replay.stdout, /^replaying workflow cli-replay: n1 \(shaky\.step\)\n30\n$/);
    const again = await runCli(['replay', 'cli-replay', ...flags()]);
    assertOneLine(again, EXIT.state, /workflow cli-replay is succeeded; only a failed or canceled workflow can be replayed/);
  });

  test('cancel ends a running workflow', async () => {
    const wf = await producer.start(chain(sig('slow.wait', [30_000]), sig('math.add', [1], {})), { workflowId: 'cli-cancel' });
    const cancel = await runCli(['cancel', 'cli-cancel', ...flags()]);
    assert.equal(cancel.code, EXIT.ok, cancel.stderr);
    assert.match(cancel.stdout, /workflow cli-cancel is canceled/);
    await assert.rejects(wf.result({ timeoutMs: 10_000 }), WorkflowCanceledError);
    const twice = await runCli(['cancel', 'cli-cancel', ...flags()]);
    assert.match(twice.stdout, /had already settled \(canceled\); nothing to cancel/);
  });

  test('the worker closes gracefully on SIGTERM and exits 0', async () => {
    worker.kill('SIGTERM');
    const run = await finished(worker);
    assert.equal(run.code, EXIT.ok, run.stderr);
    assert.match(run.stderr, /SIGTERM: finishing in-flight nodes, then exiting/);
  });
});
