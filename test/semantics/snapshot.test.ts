/**
 * API.md WorkflowSnapshot / NodeSnapshot: node fields, declaration order (depth-first), stable ids, deps (an
 * immutable step waits without receiving), attempts, args as written before any parent result, results,
 * errors, timestamps; and `toMermaid` / `toDot` rendering one style per state with labels escaped so stored
 * strings (`"`, `-->`, `<script>`) render as text.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { chain, chord, group, sig, toDot, toMermaid, type WorkflowSnapshot } from '../../src/index.js';
import { deferred, forEachMode } from '../support/modes.js';

const EVIL = 'evil"]--> x["<script>alert(1)</script>';

forEachMode((mode) => {
  it('nodes come in declaration order (depth-first) with deps, args as written, results and attempts', async () => {
    const t = await mode.create();
    let flakyCalls = 0;
    const add = t.app.task('add', (_ctx, a: number, b: number) => a + b);
    const sum = t.app.task('sum', (_ctx, xs: number[], extra: number) => xs.reduce((s, x) => s + x, extra));
    const flaky = t.app.task('flaky', (_ctx, x: number) => {
      if (++flakyCalls < 3) throw new TypeError('again');
      return x;
    }, { autoretryFor: [TypeError] });
    const canvas = chain(add.s(1, 2), group(add.s(10), chain(add.s(20), flaky.s())), chord([add.si(100, 0), add.si(200, 0)], sum.s(1000)));
    const wf = await t.start(canvas, { workflowId: 'shape' });
    assert.equal(await wf.result(), 1300);
    const snap = await wf.status();
    assert.equal(snap.id, 'shape');
    assert.equal(snap.state, 'succeeded');
    assert.equal(snap.result, 1300);
    assert.deepEqual(snap.nodes.map((n) => ({ id: n.id, task: n.task, state: n.state, deps: n.deps, args: n.args, result: n.result, attempts: n.attempts })), [
      { id: 'n0', task: 'add', state: 'succeeded', deps: [], args: [1, 2], result: 3, attempts: 1 },
      { id: 'n1', task: 'add', state: 'succeeded', deps: ['n0'], args: [10], result: 13, attempts: 1 },
      { id: 'n2', task: 'add', state: 'succeeded', deps: ['n0'], args: [20], result: 23, attempts: 1 },
      { id: 'n3', task: 'flaky', state: 'succeeded', deps: ['n2'], args: [], result: 23, attempts: 3 },
      { id: 'n4', task: 'add', state: 'succeeded', deps: ['n1', 'n3'], args: [100, 0], result: 100, attempts: 1 },
      { id: 'n5', task: 'add', state: 'succeeded', deps: ['n1', 'n3'], args: [200, 0], result: 200, attempts: 1 },
      { id: 'n6', task: 'sum', state: 'succeeded', deps: ['n4', 'n5'], args: [1000], result: 1300, attempts: 1 },
    ]);
    for (const n of snap.nodes) {
      assert.equal(n.error, undefined);
      assert.equal(n.kind, 'task');
    }
  });

  it('the same canvas compiles to the same node ids in another workflow', async () => {
    const t = await mode.create();
    const id = t.app.task('id', (_ctx, x: number) => x);
    const head = t.app.task('head', (_ctx, xs: number[]) => xs[0] ?? 0);
    const build = () => chain(id.s(1), group(id.s(), chord([id.s()], head.s())));
    const a = await t.start(build());
    const b = await t.start(build());
    await Promise.all([a.result(), b.result()]);
    const ids = (s: WorkflowSnapshot) => s.nodes.map((n) => [n.id, n.deps]);
    assert.deepEqual(ids(await a.status()), ids(await b.status()));
  });

  it('timestamps are ordered: createdAt <= startedAt <= finishedAt <= settledAt; blocked nodes never started', async () => {
    const t = await mode.create();
    const ok = t.app.task('ok', () => 1);
    const boom = t.app.task('boom', (): number => {
      throw new Error('stop');
    });
    const wf = await t.start(chain(ok.s(), boom.si(), ok.si()));
    await assert.rejects(wf.result());
    const snap = await wf.status();
    assert.equal(snap.state, 'failed');
    assert.equal(typeof snap.createdAt, 'number');
    assert.ok(snap.settledAt! >= snap.createdAt);
    const [done, failed, blocked] = snap.nodes;
    for (const n of [done!, failed!]) {
      assert.ok(n.startedAt! >= snap.createdAt, n.id);
      assert.ok(n.finishedAt! >= n.startedAt!, n.id);
      assert.ok(snap.settledAt! >= n.finishedAt!, n.id);
    }
    assert.ok(failed!.startedAt! >= done!.finishedAt!);
    assert.deepEqual([blocked!.state, blocked!.startedAt, blocked!.attempts], ['blocked', undefined, 0]);
    assert.deepEqual([failed!.error?.name, failed!.error?.message, typeof failed!.error?.stack], ['Error', 'stop', 'string']);
  });

  it('a running workflow shows running, pending and no settledAt or result', async () => {
    const t = await mode.create();
    const entered = deferred();
    const gate = deferred();
    const held = t.app.task('held', async () => {
      entered.resolve();
      await gate.promise;
      return 'x';
    });
    const after = t.app.task('after', (_ctx, x: string) => x);
    const started = t.start(chain(held.s(), after.s()), { workflowId: 'in-flight' });
    await entered.promise;
    const snap = await t.app.workflow('in-flight').status();
    assert.equal(snap.state, 'running');
    assert.equal(snap.settledAt, undefined);
    assert.equal(snap.result, undefined);
    assert.deepEqual(snap.nodes.map((n) => [n.state, n.attempts, n.startedAt !== undefined, n.finishedAt]), [['running', 1, true, undefined], ['pending', 0, false, undefined]]);
    gate.resolve();
    await (await started).result();
  });

  it('toMermaid and toDot render one style per state and escape labels', async () => {
    const t = await mode.create();
    const ok = t.app.task('ok', () => 1);
    const wf = await t.start(chain(ok.s(), group(sig(EVIL, ['"-->', '<script>'], { immutable: true }), ok.si()), ok.si()));
    await assert.rejects(wf.result());
    const snap = await wf.status();
    assert.deepEqual(snap.nodes.map((n) => n.state), ['succeeded', 'failed', 'succeeded', 'blocked']);

    const mermaid = toMermaid(snap);
    assert.match(mermaid, /^flowchart/);
    for (const state of ['succeeded', 'failed', 'blocked']) assert.match(mermaid, new RegExp(`classDef ${state} `));
    const nodeLines = mermaid.split('\n').filter((l) => /\["/.test(l));
    assert.equal(nodeLines.length, 4);
    for (const line of nodeLines) {
      // One quoted label per node line: nothing inside it may close the quote, open markup or draw an edge.
      const label = line.slice(line.indexOf('["') + 2, line.lastIndexOf('"]'));
      assert.doesNotMatch(label, /["<>]|-->|\]/, line);
    }
    assert.match(nodeLines[1]!, /:::failed$/);
    assert.match(nodeLines[3]!, /:::blocked$/);
    assert.ok(!mermaid.includes('<script>'));
    const edges = mermaid.split('\n').filter((l) => l.includes('-->'));
    assert.deepEqual(edges.map((l) => l.trim().split(' --> ').length), [2, 2, 2, 2]);
    assert.equal(edges.length, 4);

    const dot = toDot(snap);
    assert.match(dot, /^digraph "/);
    const dotNodes = dot.split('\n').filter((l) => l.includes('[label="'));
    assert.equal(dotNodes.length, 4);
    for (const line of dotNodes) {
      // Every quote inside the label is escaped, so the label ends where the renderer says.
      const label = line.slice(line.indexOf('[label="') + 8, line.indexOf('", fillcolor='));
      assert.doesNotMatch(label.replace(/\\\\/g, '').replace(/\\"/g, ''), /"/, line);
    }
    assert.ok(dotNodes[1]!.includes('evil\\"]--> x[\\"<script>'));
    const colours = new Set(dotNodes.map((l) => /fillcolor="([^"]+)"/.exec(l)![1]));
    assert.equal(colours.size, 3);
  });
});
