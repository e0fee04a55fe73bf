/**
 * API.md TaskOptions (retries) and `ctx.retry()`: `autoretryFor` matches error classes (and subclasses) and
 * error names; `maxRetries` bounds retries, then the node fails with the original error; `ctx.retry()` ends
 * the attempt and schedules a retry (with `countdownMs`), past the bound it fails with
 * MaxRetriesExceededError; `ctx.attempt` counts 1, 2, 3; the delay schedule (`retryDelayMs`, `retryBackoff`,
 * `retryBackoffMaxMs`, `retryJitter`) is checked on the delay the worker asks the store for, not on a clock.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { chain, MaxRetriesExceededError, WorkflowCanceledError, WorkflowFailedError, type TaskOptions } from '../../src/index.js';
import { forEachMode, type TestEnv } from '../support/modes.js';

class Flaky extends Error {
  override name = 'Flaky';
}
class VeryFlaky extends Flaky {
  override name = 'VeryFlaky';
}

async function failure(promise: Promise<unknown>): Promise<WorkflowFailedError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof WorkflowFailedError, `expected WorkflowFailedError, got ${String(error)}`);
  return error;
}

/** A task that throws `make(attempt)` on its first `failures` attempts, then returns its attempt list. */
function flaky(t: TestEnv, name: string, failures: number, make: (attempt: number) => unknown, options: TaskOptions) {
  const attempts: number[] = [];
  const task = t.app.task(name, (ctx) => {
    attempts.push(ctx.attempt);
    if (attempts.length <= failures) throw make(ctx.attempt);
    return [...attempts];
  }, options);
  return { task, attempts };
}

forEachMode((mode) => {
  it('autoretryFor by class retries; ctx.attempt counts 1, 2, 3', async () => {
    const t = await mode.create();
    const { task, attempts } = flaky(t, 'flaky', 2, (n) => new Flaky(`attempt ${n}`), { autoretryFor: [Flaky] });
    const wf = await t.start(task.s());
    assert.deepEqual(await wf.result(), [1, 2, 3]);
    assert.deepEqual(attempts, [1, 2, 3]);
    const node = (await wf.status()).nodes[0]!;
    assert.equal(node.state, 'succeeded');
    assert.equal(node.attempts, 3);
    assert.equal(t.probe.of('retry').length, 2);
  });

  it('autoretryFor by error name retries', async () => {
    const t = await mode.create();
    const { task } = flaky(t, 'named', 1, () => Object.assign(new Error('by name'), { name: 'ECONNRESET' }), { autoretryFor: ['ECONNRESET'] });
    const wf = await t.start(task.s());
    assert.deepEqual(await wf.result(), [1, 2]);
  });

  it('autoretryFor by class matches a subclass', async () => {
    const t = await mode.create();
    const { task } = flaky(t, 'sub', 2, () => new VeryFlaky('subclass'), { autoretryFor: [Flaky] });
    const wf = await t.start(task.s());
    assert.deepEqual(await wf.result(), [1, 2, 3]);
  });

  it('an error autoretryFor does not match fails at once', async () => {
    const t = await mode.create();
    const { task, attempts } = flaky(t, 'other', 5, () => new TypeError('not listed'), { autoretryFor: [Flaky, 'Nope'] });
    const wf = await t.start(task.s());
    const error = await failure(wf.result());
    assert.equal(error.failures[0]!.error.name, 'TypeError');
    assert.deepEqual(attempts, [1]);
    assert.equal(t.probe.of('retry').length, 0);
  });

  it('maxRetries bounds the retries, then the node fails with the original error', async () => {
    const t = await mode.create();
    const { task, attempts } = flaky(t, 'always', Infinity, (n) => new Flaky(`failure ${n}`), { autoretryFor: [Flaky], maxRetries: 2 });
    const wf = await t.start(task.s());
    const error = await failure(wf.result());
    assert.deepEqual(attempts, [1, 2, 3]);
    assert.deepEqual(error.failures.map((f) => [f.nodeId, f.error.name, f.error.message]), [['n0', 'Flaky', 'failure 3']]);
    const node = (await wf.status()).nodes[0]!;
    assert.equal(node.state, 'failed');
    assert.equal(node.attempts, 3);
    assert.equal(node.error?.name, 'Flaky');
  });

  it('maxRetries: 0 means one attempt', async () => {
    const t = await mode.create();
    const { task, attempts } = flaky(t, 'once', Infinity, () => new Flaky('x'), { autoretryFor: [Flaky], maxRetries: 0 });
    await failure((await t.start(task.s())).result());
    assert.deepEqual(attempts, [1]);
  });

  it('the most specific maxRetries wins: defaults < routes < task < signature', async () => {
    const t = await mode.create({ app: { defaults: { maxRetries: 5, autoretryFor: ['Flaky'] }, routes: { 'routed.*': { maxRetries: 3 } } } });
    const made = {
      byDefault: flaky(t, 'plain', Infinity, () => new Flaky('x'), {}),
      byRoute: flaky(t, 'routed.one', Infinity, () => new Flaky('x'), {}),
      byTask: flaky(t, 'routed.two', Infinity, () => new Flaky('x'), { maxRetries: 2 }),
      bySig: flaky(t, 'routed.three', Infinity, () => new Flaky('x'), { maxRetries: 2 }),
    };
    for (const [key, { task }] of Object.entries(made)) {
      const sig = key === 'bySig' ? task.s().set({ maxRetries: 1 }) : task.s();
      await failure((await t.start(sig)).result());
    }
    assert.deepEqual(Object.fromEntries(Object.entries(made).map(([k, v]) => [k, v.attempts.length])), { byDefault: 6, byRoute: 4, byTask: 3, bySig: 2 });
  });

  it('ctx.retry({ countdownMs }) schedules a retry after that delay', async () => {
    const t = await mode.create();
    const attempts: number[] = [];
    const task = t.app.task('manual', (ctx) => {
      attempts.push(ctx.attempt);
      if (ctx.attempt < 3) ctx.retry({ countdownMs: 3 + ctx.attempt });
      return 'third time';
    });
    const wf = await t.start(task.s());
    assert.equal(await wf.result(), 'third time');
    assert.deepEqual(attempts, [1, 2, 3]);
    assert.deepEqual(t.probe.of('retry').map((e) => e.delayMs), [4, 5]);
  });

  it('ctx.retry() wins even when the handler swallows its throw', async () => {
    const t = await mode.create();
    const attempts: number[] = [];
    const task = t.app.task('swallow', (ctx) => {
      attempts.push(ctx.attempt);
      if (ctx.attempt === 1) {
        try {
          ctx.retry({ countdownMs: 0 });
        } catch {
          return 'swallowed';
        }
      }
      return 'retried';
    });
    const wf = await t.start(task.s());
    assert.equal(await wf.result(), 'retried');
    assert.deepEqual(attempts, [1, 2]);
  });

  it('ctx.retry() past the bound fails with MaxRetriesExceededError', async () => {
    const t = await mode.create();
    const attempts: number[] = [];
    const task = t.app.task('forever', (ctx): string => {
      attempts.push(ctx.attempt);
      return ctx.retry();
    }, { maxRetries: 2 });
    const wf = await t.start(task.s());
    const error = await failure(wf.result());
    assert.deepEqual(attempts, [1, 2, 3]);
    assert.equal(error.failures[0]!.error.name, 'MaxRetriesExceededError');
    assert.equal(new MaxRetriesExceededError(2).name, 'MaxRetriesExceededError');
  });

  it('ctx.retry({ error }) past the bound fails with that error', async () => {
    const t = await mode.create();
    const task = t.app.task('forever', (ctx): string => ctx.retry({ error: new Flaky('the real cause') }), { maxRetries: 1 });
    const error = await failure((await t.start(task.s())).result());
    assert.deepEqual([error.failures[0]!.error.name, error.failures[0]!.error.message], ['Flaky', 'the real cause']);
  });

  it('ctx.retry() with a countdown that is not a whole number of ms from 0 to 2^31-1 fails the node with CanvasError', async () => {
    const t = await mode.create();
    const bad = t.app.task('bad', (ctx, ms: number): string => ctx.retry({ countdownMs: ms }));
    for (const ms of [-1, 1.5, 2 ** 31]) {
      const error = await failure((await t.start(bad.s(ms))).result());
      assert.equal(error.failures[0]!.error.name, 'CanvasError', String(ms));
    }
    assert.equal(t.probe.of('retry').length, 0);
  });

  it('a node waiting for its retry shows retrying with the last error', async () => {
    const t = await mode.create();
    const task = t.app.task('later', (ctx): string => ctx.retry({ countdownMs: 600_000, error: new Flaky('try later') }));
    const started = t.start(task.s(), { workflowId: 'retrying' });
    await t.probe.when('n0', 'retry');
    const wf = t.app.workflow('retrying');
    const node = (await wf.status()).nodes[0]!;
    assert.equal(node.state, 'retrying');
    assert.equal(node.attempts, 1);
    assert.deepEqual([node.error?.name, node.error?.message], ['Flaky', 'try later']);
    await t.app.cancel('retrying');
    await started;
    await assert.rejects(wf.result(), WorkflowCanceledError);
  });

  it('a retried step in a chain still passes its final result on', async () => {
    const t = await mode.create();
    const { task } = flaky(t, 'flaky', 1, () => new Flaky('once'), { autoretryFor: [Flaky] });
    const count = t.app.task('count', (_ctx, xs: number[]) => xs.length);
    const wf = await t.start(chain(task.s(), count.s()));
    assert.equal(await wf.result(), 2);
  });
});

forEachMode((mode) => {
  /** The delays the worker chose for `failures` consecutive retries of one node. */
  async function delays(options: TaskOptions, failures: number, random?: () => number): Promise<number[]> {
    const t = await mode.create({ app: random ? { random } : {} });
    const { task } = flaky(t, 'sched', failures, () => new Flaky('x'), { autoretryFor: [Flaky], maxRetries: failures, ...options });
    await (await t.start(task.s())).result();
    return t.probe.of('retry').map((e) => e.delayMs!);
  }

  it('without backoff every retry waits retryDelayMs', async () => {
    assert.deepEqual(await delays({ retryDelayMs: 3 }, 3), [3, 3, 3]);
  });

  it('with backoff and no jitter retry n waits retryDelayMs * 2^n', async () => {
    assert.deepEqual(await delays({ retryDelayMs: 1, retryBackoff: true, retryJitter: false }, 4), [1, 2, 4, 8]);
  });

  it('retryBackoffMaxMs caps the computed delay', async () => {
    assert.deepEqual(await delays({ retryDelayMs: 1, retryBackoff: true, retryJitter: false, retryBackoffMaxMs: 3 }, 4), [1, 2, 3, 3]);
  });

  it('with jitter the delay is uniform in [0, computed] (random injected)', async () => {
    const draws = [0, 0.999999, 0.5, 0.25];
    let i = 0;
    const got = await delays({ retryDelayMs: 2, retryBackoff: true }, 4, () => draws[i++ % draws.length]!);
    // computed: 2, 4, 8, 16; floor(r * (computed + 1))
    assert.deepEqual(got, [0, 4, 4, 4]);
  });
});
