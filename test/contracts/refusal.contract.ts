/**
 * "The store refuses every transition the machine refuses" (DESIGN inv 1), checked through the Store API:
 * for every node state, a node is driven into that state, then every operation whose event the node machine
 * refuses from that state is attempted; the store must refuse it (stale / already / refused) and leave the
 * workflow exactly as it was. Workflow-level events (cancel, replay) are checked against the workflow machine.
 * Run by the memory store's tests and by every other store's.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { chain, sig } from '../../src/canvas/builders.js';
import { NODE_STATES, NODE_TRANSITIONS, WORKFLOW_STATES, WORKFLOW_TRANSITIONS, type NodeEvent, type NodeState, type WorkflowState } from '../../src/runtime/machines.js';
import type { Store } from '../../src/stores/store.js';
import { boom, fragmentGraph, open, Run, storedGraph, sweepUntil, type StoreFactory } from './store/harness.js';

/** A node driven into a state: `x` (n1) in chain(p, x, y), with the claims made on the way. */
interface Scene {
  run: Run;
  /** Token of x's last claim, if it was ever claimed. */
  token?: string;
  /** Re-sends the commit of x's parent that decided x's fate (DEPS_MET or BLOCK). */
  resendParent(): ReturnType<Run['complete']>;
  /** The parent's token, to send the opposite verdict under it. */
  parentToken: string;
}

const X = 'n1';
const TASK = 'x';

async function scene(store: Store, state: NodeState): Promise<Scene> {
  const run = new Run(store);
  await run.create(chain(sig('p'), sig(TASK), sig('y')));
  const p = await run.claim('n0');
  if (state === 'pending') return { run, parentToken: p.token, resendParent: () => run.complete('n0', 'never-committed', 'P') };
  if (state === 'blocked') {
    await run.fail('n0', p.token, boom('parent'));
    return { run, parentToken: p.token, resendParent: () => run.fail('n0', p.token, boom('parent')) };
  }
  await run.complete('n0', p.token, 'P');
  const base = { run, parentToken: p.token, resendParent: () => run.complete('n0', p.token, 'P') };
  if (state === 'queued') return base;
  const x = await run.claim(X, { leaseMs: state === 'running' ? 60_000 : 1 });
  const withToken = { ...base, token: x.token };
  switch (state) {
    case 'running': return withToken;
    case 'retrying': await run.retry(X, x.token, 3_600_000); return withToken;
    case 'waiting': await run.replace(X, x.token, fragmentGraph(sig('f'), X, x.node)); return withToken;
    case 'succeeded': await run.complete(X, x.token, 'X'); return withToken;
    case 'failed': await run.fail(X, x.token, boom('x')); return withToken;
    case 'canceled': await store.cancel(run.id); return withToken;
    default: throw new Error(`no scene for ${state}`);
  }
}

/** One operation a client can attempt, the node event it implies, and what counts as a refusal. */
interface Attempt {
  name: string;
  event: NodeEvent;
  /** Whether the whole workflow must be unchanged (false: only node x must be). */
  whole: boolean;
  do(s: Scene, store: Store): Promise<boolean>;
}

const commitRefused = (r: { status: string; ready: unknown[]; settled?: unknown }) => (r.status === 'stale' || r.status === 'already') && r.ready.length === 0 && r.settled === undefined;
const tokenOf = (s: Scene) => s.token ?? 'no-such-claim';

const ATTEMPTS: Attempt[] = [
  { name: 'claim with a fresh token', event: 'CLAIM', whole: true, do: async (s) => (await s.run.tryClaim(X, { attempt: 1, task: TASK })).status === 'stale' },
  {
    name: 'claim re-sent with the holder token', event: 'CLAIM', whole: true,
    do: async (s) => {
      const r = await s.run.tryClaim(X, { attempt: 1, task: TASK, token: tokenOf(s) });
      return r.status === 'stale' || (r.status === 'claimed' && r.already);
    },
  },
  { name: 'complete', event: 'SUCCEED', whole: true, do: async (s) => commitRefused(await s.run.complete(X, tokenOf(s), 'late')) },
  { name: 'fail', event: 'FAIL', whole: true, do: async (s) => commitRefused(await s.run.fail(X, tokenOf(s), boom('late'))) },
  { name: 'retry', event: 'RETRY', whole: true, do: async (s) => commitRefused(await s.run.retry(X, tokenOf(s), 0)) },
  {
    name: 'replace', event: 'REPLACE', whole: true,
    do: async (s) => commitRefused(await s.run.replace(X, tokenOf(s), storedGraph(sig('g'), { idPrefix: `${X}.` }))),
  },
  { name: 'parent commit re-sent', event: 'DEPS_MET', whole: true, do: async (s) => commitRefused(await s.resendParent()) },
  { name: 'parent fails late', event: 'BLOCK', whole: true, do: async (s) => commitRefused(await s.run.fail('n0', s.parentToken, boom('late'))) },
  { name: 'replay', event: 'REPLAY', whole: true, do: async (s) => (await s.run.replay()).status === 'refused' },
  {
    name: 'release', event: 'REDELIVER', whole: true,
    do: async (s, store) => commitRefused(await store.release({ workflowId: s.run.id, nodeId: X, token: tokenOf(s) })),
  },
  {
    name: 'cancel', event: 'CANCEL', whole: false,
    do: async (s, store) => ['ok', 'already'].includes((await store.cancel(s.run.id)).status),
  },
  {
    name: 'sweep after the lease lapsed', event: 'REDELIVER', whole: true,
    do: async (s, store) => {
      // a control node claimed after x with the same 1 ms lease: once it is redelivered, x's lease has lapsed too
      const control = new Run(store);
      await control.create(sig('control'));
      await control.claim('n0', { leaseMs: 1 });
      const swept = await sweepUntil(control, (all) => all.redelivered >= 1);
      return !swept.ready.some((r) => r.workflowId === s.run.id) && swept.redelivered === 1 && swept.lost === 0;
    },
  },
];

/** Registers the refusal tests under `describe(name)`. */
export function storeRefusalContract(name: string, make: StoreFactory): void {
  describe(`store refuses what the machines refuse: ${name}`, () => {
    for (const state of NODE_STATES) {
      const refused = ATTEMPTS.filter((a) => NODE_TRANSITIONS[state][a.event] === undefined);
      test(`node ${state}: ${refused.map((a) => a.name).join(', ')}`, async (t) => {
        const { store } = await open(make, t, { history: true });
        for (const attempt of refused) {
          const s = await scene(store, state);
          const before = await s.run.snapshot();
          const history = await store.history(s.run.id);
          assert.equal(before.nodes[1]!.state, state === 'waiting' ? 'running' : state, `scene for ${state}`);
          assert.ok(await attempt.do(s, store), `${attempt.name} (${attempt.event}) from ${state} was not refused`);
          const after = await s.run.snapshot();
          if (attempt.whole) assert.deepEqual(after, before, `${attempt.name} from ${state} changed the workflow`);
          else assert.deepEqual(after.nodes[1], before.nodes[1], `${attempt.name} from ${state} changed the node`);
          const xHistory = (h: typeof history) => h.filter((r) => r.node === X);
          assert.deepEqual(xHistory(await store.history(s.run.id)), xHistory(history), `${attempt.name} from ${state} moved the node`);
        }
      });
    }

    for (const state of WORKFLOW_STATES) {
      test(`workflow ${state}: cancel and replay follow the workflow machine`, async (t) => {
        const { store } = await open(make, t);
        const run = new Run(store);
        await run.create(sig('a'));
        if (state === 'succeeded') await run.run('n0', 1);
        if (state === 'failed') await run.runFail('n0');
        if (state === 'canceled') await store.cancel(run.id);
        assert.equal((await run.snapshot()).state, state);
        const before = await run.snapshot();
        const row: Partial<Record<string, WorkflowState>> = WORKFLOW_TRANSITIONS[state];
        if (row.CANCEL === undefined) {
          assert.deepEqual(await store.cancel(run.id), { status: 'already', state });
          assert.deepEqual(await run.snapshot(), before);
        }
        if (row.REPLAY === undefined) {
          assert.deepEqual(await run.replay(), { status: 'refused', state });
          assert.deepEqual(await run.snapshot(), before);
        } else {
          assert.equal((await run.replay()).status, 'ok');
          assert.equal((await run.snapshot()).state, row.REPLAY);
        }
      });
    }
  });
}
