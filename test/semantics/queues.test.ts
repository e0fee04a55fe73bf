/**
 * API.md queues: a node waits in its queue until a worker of that queue runs it. That holds for every node a
 * workflow can make ready, not only those of the canvas given to `start()`: an errback, and the nodes a
 * `ctx.replace` adds, routed to queues no worker consumes yet, wait there until one starts (a broker that
 * needs queues declared before use, like RabbitMQ, must have them declared by then: RELIABILITY D6).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { group, WorkflowFailedError, type ErrbackInfo } from '../../src/index.js';
import { forEachMode } from '../support/modes.js';

forEachMode((mode) => {
  it('an errback and replacement nodes on queues no worker consumes yet wait there until one starts', { timeout: 60_000 }, async () => {
    const t = await mode.create({ worker: { queues: ['default'] } });
    const reports: string[] = [];
    const report = t.app.task('report', (_ctx, info: ErrbackInfo) => {
      reports.push(`${info.nodeId} ${info.error.message}`);
      return null;
    }, { queue: 'alerts' });
    const boom = t.app.task('boom', (): string => {
      throw new Error('boom');
    });
    const leaf = t.app.task('leaf', (_ctx, x: number) => x * 2, { queue: 'leaves' });
    const fan = t.app.task('fan', (ctx): number[] => ctx.replace(group(leaf.s(1), leaf.s(2))));

    const failed = await t.start(boom.s().onError(report.s()), { workflowId: 'q-failed' });
    const fanned = await t.start(fan.s(), { workflowId: 'q-fanned' });
    await t.probe.when('n0', 'fail', 'q-failed');
    await t.probe.when('n0', 'replace', 'q-fanned');
    assert.deepEqual((await failed.status()).nodes.filter((n) => n.kind === 'errback').map((n) => n.state), ['queued']);
    assert.deepEqual((await fanned.status()).nodes.filter((n) => n.replacing === 'n0').map((n) => n.state), ['queued', 'queued']);

    await t.app.worker({ queues: ['alerts', 'leaves'] }).start();
    assert.deepEqual(await fanned.result(), [2, 4]);
    const error = await failed.result().then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof WorkflowFailedError);
    await t.probe.when('e0', 'complete', 'q-failed');
    assert.deepEqual(reports, ['n0 boom']);
  });
}, { when: (mode) => mode.ownWorker });
