/**
 * API.md workers: a worker renews the lease of each node it runs every `leaseMs / 3`; a node whose lease lapses
 * (its worker died) goes back to its queue and runs again, counted apart from retries, and past
 * `maxRedeliveries` fails with WorkerLostError; `worker.close()` stops taking work and finishes or hands back
 * in-flight nodes. A dead worker is simulated by making its lease renewals fail (the store stops hearing from
 * it); the late result of the "dead" attempt is fenced off.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { chain, group, WorkflowFailedError, type ErrbackInfo } from '../../src/index.js';
import { deferred, forEachMode } from '../support/modes.js';

forEachMode((mode) => {
  it('renewals keep a node that runs longer than its lease', { timeout: 10_000 }, async () => {
    // Sweeps run only when the test asks, right after a renewal, so a loaded machine cannot lapse the lease.
    const t = await mode.create({ worker: { leaseMs: 60, sweepIntervalMs: 600_000 } });
    const gate = deferred();
    const long = t.app.task('long', async () => {
      await gate.promise;
      return 'done';
    });
    const started = t.start(long.s(), { workflowId: 'long' });
    // Four renewals (every 20 ms) mean more than leaseMs has passed since the claim: without them this sweep
    // would send the node back to its queue.
    await t.probe.nth(4, 'n0', 'renew');
    await t.worker!.sweep();
    gate.resolve();
    const wf = await started;
    assert.equal(await wf.result(), 'done');
    const node = (await wf.status()).nodes[0]!;
    assert.deepEqual([node.attempts, node.redeliveries], [1, 0]);
  });

  it('a node whose worker looks dead runs again, past maxRedeliveries fails with WorkerLostError, errback once', { timeout: 10_000 }, async () => {
    const t = await mode.create({ worker: { leaseMs: 30, concurrency: 8 } });
    t.probe.failRenewals = true;
    const gate = deferred();
    const attempts: number[] = [];
    const reports: ErrbackInfo[] = [];
    const stuck = t.app.task('stuck', async (ctx) => {
      attempts.push(ctx.attempt);
      await gate.promise;
      return 'too late';
    }, { maxRedeliveries: 2 });
    const after = t.app.task('after', (_ctx, x: string) => x);
    const report = t.app.task('report', (_ctx, info: ErrbackInfo) => {
      reports.push(info);
      return null;
    });
    const wf = await t.start(chain(stuck.s(), after.s()).onError(report.s()));
    const error = await wf.result().then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof WorkflowFailedError);
    assert.deepEqual(error.failures.map((f) => [f.nodeId, f.error.name]), [['n0', 'WorkerLostError']]);
    // Redeliveries are not retries: every start is attempt 1.
    assert.deepEqual(attempts, [1, 1, 1]);
    assert.deepEqual(reports.map((r) => [r.nodeId, r.error.name]), [['n0', 'WorkerLostError']]);
    // A dead-letter copy of the message its workers kept dying on (RELIABILITY §1.4), kept by the sweeper right
    // after the sweep that failed the node (so maybe after the failure is heard).
    for (const since = Date.now(); t.app.counters.get('dead_letter.worker_lost') === 0; await new Promise((resolve) => setTimeout(resolve, 5))) {
      assert.ok(Date.now() - since < 10_000, 'no dead letter kept for the lost node');
    }
    const letters = (await (await t.app.kernel()).broker.deadLetters(10)).filter((l) => l.reason === 'worker_lost');
    assert.deepEqual(letters.map((l) => [l.queue, JSON.parse(l.body) as unknown]), [['default', { v: 1, workflowId: wf.id, nodeId: 'n0', attempt: 1, task: 'stuck' }]]);
    gate.resolve();
    await t.worker!.close();
    const snap = await wf.status();
    assert.deepEqual(snap.nodes.filter((n) => n.kind === 'task').map((n) => [n.state, n.redeliveries, n.result]), [['failed', 2, undefined], ['blocked', 0, undefined]]);
    assert.equal(t.probe.of('complete').filter((e) => e.nodeId === 'n0').length, 0);
  });

  it('a redelivered node that completes wins; the lost attempt\'s late result is fenced off', { timeout: 10_000 }, async () => {
    const t = await mode.create({ worker: { leaseMs: 100, concurrency: 4 } });
    t.probe.failRenewals = true;
    const firstGate = deferred();
    const firstReturned = deferred();
    const keys: string[] = [];
    let starts = 0;
    const task = t.app.task('once.more', async (ctx) => {
      keys.push(`${ctx.attempt} ${ctx.idempotencyKey}`);
      if (++starts === 1) {
        await firstGate.promise;
        firstReturned.resolve();
        return 'first (stale)';
      }
      return 'second';
    });
    const started = t.start(task.s(), { workflowId: 'redelivered' });
    await t.probe.nth(2, 'n0', 'claim');
    t.probe.failRenewals = false;
    const wf = await started;
    assert.equal(await wf.result(), 'second');
    firstGate.resolve();
    await firstReturned.promise;
    await t.worker!.close();
    const node = (await wf.status()).nodes[0]!;
    assert.deepEqual([node.state, node.result, node.attempts, node.redeliveries], ['succeeded', 'second', 2, 1]);
    assert.deepEqual(keys, ['1 redelivered/n0', '1 redelivered/n0']);
    assert.equal(t.probe.of('complete').length, 1);
  });

  it('a worker runs at most `concurrency` nodes at once', { timeout: 10_000 }, async () => {
    const t = await mode.create({ worker: { concurrency: 2 } });
    let running = 0;
    let most = 0;
    const arrivals: Array<() => void> = [];
    let arrived: (() => void) | undefined;
    const held = t.app.task('held', async (_ctx, i: number) => {
      running++;
      most = Math.max(most, running);
      await new Promise<void>((release) => {
        arrivals.push(release);
        arrived?.();
      });
      running--;
      return i;
    });
    const next = (): Promise<() => void> => new Promise((resolve) => {
      const take = (): void => {
        arrived = undefined;
        resolve(arrivals.shift()!);
      };
      if (arrivals.length > 0) take();
      else arrived = take;
    });
    const wf = await t.start(group(Array.from({ length: 6 }, (_, i) => held.s(i))));
    // Two arrive while both are held; then each release lets one more in.
    const first = await next();
    const second = await next();
    first();
    second();
    for (let i = 2; i < 6; i++) (await next())();
    assert.deepEqual(await wf.result(), [0, 1, 2, 3, 4, 5]);
    assert.equal(most, 2);
  });

  it('a chain\'s next step runs on the worker that finished the step before (a continuation), within concurrency', { timeout: 10_000 }, async () => {
    const t = await mode.create({ worker: { concurrency: 2 } });
    let running = 0;
    let most = 0;
    const step = t.app.task('step', async (_ctx, x: number) => {
      running++;
      most = Math.max(most, running);
      await new Promise((resolve) => setImmediate(resolve));
      running--;
      return x + 1;
    });
    const published = t.app.counters.get('published');
    const wfs = await Promise.all([0, 10, 20].map((x) => t.start(chain(step.s(x), step.s(), step.s(), step.s()))));
    assert.deepEqual(await Promise.all(wfs.map((wf) => wf.result())), [4, 14, 24]);
    // Within concurrency: a continuation holds its slot, never one more. (Whether two steps ever overlap depends
    // on delivery timing, which AMQP does not fix: the test before holds nodes to see both slots used.)
    assert.ok(most >= 1 && most <= 2, `at most 2 at once, saw ${most}`);
    // Steps 2-4 of each chain: claimed by the completion of the step before, never published.
    assert.equal(t.app.counters.get('continued'), mode.continues ? 9 : 0);
    assert.equal(t.app.counters.get('published') - published, mode.continues ? 3 : 12);
  });

  it('worker.close() lets in-flight nodes finish', { timeout: 10_000 }, async () => {
    const t = await mode.create();
    const gate = deferred();
    const entered = deferred();
    const held = t.app.task('held', async () => {
      entered.resolve();
      await gate.promise;
      return 'finished';
    });
    const wf = await t.start(held.s());
    await entered.promise;
    const closing = t.worker!.close();
    gate.resolve();
    await closing;
    assert.equal(await wf.result(), 'finished');
    assert.equal((await wf.status()).nodes[0]!.attempts, 1);
  });

  it('worker.close() hands back what does not finish within the grace period; another worker runs it', { timeout: 10_000 }, async () => {
    // A lease far longer than the test's timeout: the node must run elsewhere without waiting it out.
    const t = await mode.create({ worker: { leaseMs: 60_000, shutdownGraceMs: 5 } });
    const entered = deferred();
    const sawShutdown = deferred<boolean>();
    let starts = 0;
    const slow = t.app.task('slow', async (ctx) => {
      if (++starts === 1) {
        entered.resolve();
        await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
        sawShutdown.resolve(true);
        return 'abandoned';
      }
      return 'run elsewhere';
    });
    const wf = await t.start(slow.s());
    await entered.promise;
    await t.worker!.close();
    assert.equal(await sawShutdown.promise, true);
    // Handed back at close, not when its lease lapses: queued again at once, a counted redelivery.
    const handedBack = (await wf.status()).nodes[0];
    assert.deepEqual([handedBack?.state, handedBack?.redeliveries], ['queued', 1]);
    const other = t.app.worker({ queues: ['default'], leaseMs: 100 });
    await other.start();
    assert.equal(await wf.result(), 'run elsewhere');
    assert.equal(starts, 2);
  });

  it('a node handed back at close past maxRedeliveries fails with WorkerLostError, its delivery dead-lettered', { timeout: 10_000 }, async () => {
    const t = await mode.create({ worker: { leaseMs: 60_000, shutdownGraceMs: 5 } });
    const entered = deferred();
    const stuck = t.app.task('stuck', async (ctx) => {
      entered.resolve();
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
      return 'abandoned';
    }, { maxRedeliveries: 0 });
    const wf = await t.start(stuck.s());
    await entered.promise;
    await t.worker!.close();
    const error = await wf.result().then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof WorkflowFailedError);
    assert.deepEqual(error.failures.map((f) => [f.nodeId, f.error.name]), [['n0', 'WorkerLostError']]);
    const letters = (await (await t.app.kernel()).broker.deadLetters(10)).filter((l) => l.reason === 'worker_lost');
    assert.deepEqual(letters.map((l) => [l.queue, JSON.parse(l.body) as unknown]), [['default', { v: 1, workflowId: wf.id, nodeId: 'n0', attempt: 1, task: 'stuck' }]]);
    assert.equal(t.app.counters.get('dead_letter.worker_lost'), 1);
  });
}, { when: (mode) => mode.ownWorker });
