/**
 * API.md: `start` with a `workflowId` that already exists returns that workflow and never starts a second
 * copy; a `workflowId` outside 1-128 characters of `A-Z a-z 0-9 . _ : -` is refused with CanvasError;
 * `ctx.idempotencyKey` is `${workflowId}/${nodeId}`, the same across retries and replays. Also the rest of
 * the TaskContext: workflowId, nodeId, taskName, log, signal.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { CanvasError, group, WorkflowFailedError } from '../../src/index.js';
import { forEachMode } from '../support/modes.js';

const BAD_IDS = ['', 'x'.repeat(129), 'has space', 'brace{tag}', 'slash/id', 'über', 'new\nline', 'star*', '#hash'];
const GOOD_IDS = ['a', 'x'.repeat(128), 'Az09._:-', 'order:42.v1_retry-3'];

forEachMode((mode) => {
  it('start with an existing workflowId returns that workflow and never runs it twice', async () => {
    const t = await mode.create();
    let runs = 0;
    const once = t.app.task('once', (_ctx, x: number) => {
      runs++;
      return x;
    });
    const first = await t.start(once.s(1), { workflowId: 'same-id' });
    assert.equal(await first.result(), 1);
    const second = await t.start(once.s(2), { workflowId: 'same-id' });
    assert.equal(second.id, 'same-id');
    assert.equal(await second.result(), 1);
    assert.equal(runs, 1);
    assert.equal((await second.status()).nodes.length, 1);
  });

  it('concurrent starts with the same workflowId make one workflow', async () => {
    const t = await mode.create();
    let runs = 0;
    const once = t.app.task('once', () => {
      runs++;
      return 'only';
    });
    const handles = await Promise.all(Array.from({ length: 5 }, () => t.start(once.s(), { workflowId: 'raced' })));
    for (const h of handles) assert.equal(await h.result(), 'only');
    assert.equal(runs, 1);
  });

  it('a workflowId outside 1-128 of A-Z a-z 0-9 . _ : - is refused with CanvasError before anything is stored', async () => {
    const t = await mode.create();
    let runs = 0;
    const task = t.app.task('task', () => ++runs);
    for (const id of BAD_IDS) {
      await assert.rejects(t.start(task.s(), { workflowId: id }), CanvasError, JSON.stringify(id));
      assert.throws(() => t.app.workflow(id), CanvasError);
      await assert.rejects(t.app.replay(id), CanvasError);
      await assert.rejects(t.app.cancel(id), CanvasError);
    }
    assert.equal(runs, 0);
    for (const id of GOOD_IDS) {
      const wf = await t.start(task.s(), { workflowId: id });
      assert.equal(wf.id, id);
      await wf.result();
    }
    assert.equal(runs, GOOD_IDS.length);
  });

  it('idempotencyKey is workflowId/nodeId, stable across retries and replays', async () => {
    const t = await mode.create();
    const keys: Array<[string, number, string]> = [];
    let fixed = false;
    const flaky = t.app.task('flaky', (ctx, label: string) => {
      keys.push([label, ctx.attempt, ctx.idempotencyKey]);
      if (!fixed && label === 'b') throw new TypeError('flaky');
      return label;
    }, { autoretryFor: [TypeError], maxRetries: 2 });
    const wf = await t.start(group(flaky.s('a'), flaky.s('b')), { workflowId: 'keys' });
    await assert.rejects(wf.result(), WorkflowFailedError);
    fixed = true;
    await t.app.replay('keys');
    assert.deepEqual(await wf.result(), ['a', 'b']);
    const forB = keys.filter(([label]) => label === 'b');
    assert.deepEqual(forB.map(([, attempt]) => attempt), [1, 2, 3, 1]);
    assert.deepEqual(new Set(forB.map(([, , key]) => key)), new Set(['keys/n1']));
    assert.deepEqual(keys.filter(([label]) => label === 'a').map(([, , key]) => key), ['keys/n0']);
  });

  it('the context carries workflowId, nodeId, taskName, a logger and a signal', async () => {
    const t = await mode.create();
    const seen: unknown[] = [];
    const inspect = t.app.task('ctx.inspect', (ctx) => {
      ctx.log.info({ probe: true }, 'inside');
      seen.push({
        workflowId: ctx.workflowId, nodeId: ctx.nodeId, taskName: ctx.taskName, attempt: ctx.attempt,
        key: ctx.idempotencyKey, signal: ctx.signal instanceof AbortSignal && !ctx.signal.aborted, log: typeof ctx.log.child,
      });
      return null;
    });
    const wf = await t.start(group(inspect.s(), inspect.s()), { workflowId: 'ctx-fields' });
    await wf.result();
    assert.deepEqual(seen.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))), ['n0', 'n1'].map((nodeId) => ({
      workflowId: 'ctx-fields', nodeId, taskName: 'ctx.inspect', attempt: 1, key: `ctx-fields/${nodeId}`, signal: true, log: 'function',
    })));
  });
});
