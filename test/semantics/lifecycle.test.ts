/**
 * API.md "App" and "Running and inspecting": `start` stores the whole graph before any node is sent (a canvas
 * it refuses leaves nothing behind), `result({ timeoutMs })` gives up without harming the workflow, queues come
 * from routes / defaults / task / signature (the most specific wins) and a worker runs only its queues, and a
 * process that calls `app.close()` exits on its own.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { it } from 'node:test';
import { promisify } from 'node:util';
import { chain, group, ResultTimeoutError, SerializationError, WorkflowStateError } from '../../src/index.js';
import { deferred, forEachMode } from '../support/modes.js';

const run = promisify(execFile);

forEachMode((mode) => {
  it('a canvas that start() refuses stores nothing and runs nothing', async () => {
    const t = await mode.create({ app: { limits: { argsBytes: 100 } } });
    let runs = 0;
    const ok = t.app.task('ok', () => ++runs);
    const take = t.app.task('take', (_ctx, _prev: number, text: string) => text.length);
    await assert.rejects(t.start(chain(ok.s(), take.s('x'.repeat(200))), { workflowId: 'refused' }), (error: unknown) => {
      assert.ok(error instanceof SerializationError);
      assert.match(error.path, /args/);
      return true;
    });
    await assert.rejects(t.app.workflow('refused').status(), WorkflowStateError);
    await assert.rejects(t.app.workflow('refused').result(), WorkflowStateError);
    // The same id is still free, and the first node never ran.
    assert.equal(await (await t.start(ok.s(), { workflowId: 'refused' })).result(), 1);
    assert.equal(runs, 1);
  });

  it('result({ timeoutMs }) rejects with ResultTimeoutError and the workflow goes on', async () => {
    const t = await mode.create();
    const gate = deferred();
    const entered = deferred();
    const held = t.app.task('held', async () => {
      entered.resolve();
      await gate.promise;
      return 'eventually';
    });
    const started = t.start(held.s(), { workflowId: 'slow' });
    await entered.promise;
    const wf = t.app.workflow<string>('slow');
    await assert.rejects(wf.result({ timeoutMs: 5 }), ResultTimeoutError);
    assert.equal((await wf.status()).state, 'running');
    gate.resolve();
    await started;
    assert.equal(await wf.result({ timeoutMs: 60_000 }), 'eventually');
  });

  it('queues: defaults < routes < task < signature, the most specific wins', async () => {
    const t = await mode.create({
      app: { defaults: { queue: 'base' }, routes: { 'emails.*': { queue: 'emails' }, 'emails.send': { queue: 'shadowed' } } },
      worker: { queues: ['base', 'emails', 'own', 'per-sig'] },
    });
    const work = t.app.task('work', () => 'w');
    const send = t.app.task('emails.send', () => 's');
    const own = t.app.task('emails.own', () => 'o', { queue: 'own' });
    const wf = await t.start(group(work.s(), send.s(), own.s(), send.s().set({ queue: 'per-sig' }), group(work.s()).set({ queue: 'per-sig' })));
    assert.deepEqual(await wf.result(), ['w', 's', 'o', 's', ['w']]);
    assert.deepEqual((await wf.status()).nodes.map((n) => n.queue), ['base', 'emails', 'own', 'per-sig', 'per-sig']);
  });
});

forEachMode((mode) => {
  it('a worker runs only its queues; a worker of the other queue picks the node up', async () => {
    const t = await mode.create({ worker: { queues: ['default'] } });
    const here = t.app.task('here', () => 'default queue');
    const there = t.app.task('there', () => 'other queue', { queue: 'other' });
    const waiting = await t.start(there.s());
    assert.equal(await (await t.start(here.s())).result(), 'default queue');
    assert.equal((await waiting.status()).nodes[0]!.state, 'queued');
    await t.app.worker({ queues: ['other'] }).start();
    assert.equal(await waiting.result(), 'other queue');
  });
}, { when: (mode) => mode.ownWorker });

forEachMode((mode) => {
  it('a process that calls app.close() exits on its own: no connection or timer of the app is left', { timeout: 30_000 }, async () => {
    const t = await mode.create();
    const env = { ...process.env, ...(await t.childEnv(['default'])) };
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'test/support/close-exits.ts'], { timeout: 25_000, env });
    const [result, left] = stdout.trim().split('\n');
    assert.equal(result, '6');
    assert.equal(left, '[]', 'what still keeps the event loop alive after app.close() and its sockets closed');
  });
});
