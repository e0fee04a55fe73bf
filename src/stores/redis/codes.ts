/**
 * Reply codes of the Lua scripts and the one place where they turn into store results (STYLE "Persistence":
 * status codes map to results in exactly one place). The Lua side gets {@link CODE} from the generated
 * prelude, so both sides read the same numbers.
 */
import { IllegalTransition } from '../../runtime/step/record.js';
import type { WorkflowState } from '../../runtime/machines.js';
import { parseJson, type JsonValue } from '../../core/json.js';
import type { CancelResult, ClaimedNode, ClaimResult, CommitResult, ReadyNode, ReplayResult } from '../store.js';
import { parseSpecText } from './spec-text.js';

/** Reply codes shared with Lua (serialised into every script's prelude). */
export const CODE = {
  OK: 0, ALREADY: 1, STALE: 2, ORPHAN: 3, FORGED: 4, EARLY: 5, CLAIMED: 6, LOST: 7, CANCELED: 8, MISSING: 9,
  REFUSED: 10, UNKNOWN_NODES: 11, NOT_RUNNING: 12, EXISTS: 13,
  /** An entry of a batch whose workflow raised an error (lib.lua `batch`): `{ ERROR, message }`. */
  ERROR: 14,
} as const;

/** A raw script reply: nested arrays of strings and integers (RESP2 as ioredis returns it). */
export type Reply = Array<string | number | null>;

const READY_SLOTS = 6;

/** Ready messages from the flat 6-slot form Lua returns (id, task, attempt, queue, priority or '', delay). */
export function readyFrom(reply: Reply, from: number, workflowId: string): ReadyNode[] {
  const out: ReadyNode[] = [];
  for (let i = from; i + READY_SLOTS <= reply.length; i += READY_SLOTS) {
    const priority = String(reply[i + 4]);
    out.push({
      workflowId, nodeId: String(reply[i]), task: String(reply[i + 1]), attempt: Number(reply[i + 2]),
      queue: String(reply[i + 3]), ...(priority !== '' ? { priority: Number(priority) } : {}), delayMs: Number(reply[i + 5]),
    });
  }
  return out;
}

/** A create's reply: `{ EXISTS }`, or `{ OK, settled or '' }` (an empty canvas settles at once). */
export function createFrom(reply: Reply): { created: boolean; settled?: WorkflowState } {
  const code = Number(reply[0]);
  if (code === CODE.EXISTS) return { created: false };
  if (code !== CODE.OK) return unexpected(code);
  const settled = String(reply[1] ?? '');
  return { created: true, ...(settled !== '' ? { settled: settled as WorkflowState } : {}) };
}

/**
 * A claim's reply: `{ CLAIMED, already, spec, has input, input, attempt, retries, redeliveries, kind, errback count }`,
 * or the short form `{ CLAIMED, already, spec }` when those fields hold their usual values (the node of a compact
 * workflow, lua/compact.lua claimCompact; a task node without parent input, retries or redeliveries in a
 * workflow without errbacks, lua/advance.lua claimOne), claimed under the attempt asked for (a claim succeeds
 * only then). `task`, `attempt`: the claim's request.
 */
export function claimFrom(reply: Reply, task: string, attempt: number): ClaimResult {
  const code = Number(reply[0]);
  if (code === CODE.ORPHAN) return { status: 'orphan' };
  if (code === CODE.FORGED) return { status: 'forged' };
  if (code === CODE.STALE) return { status: 'stale' };
  if (code === CODE.EARLY) return { status: 'early', delayMs: Number(reply[1]) };
  if (code !== CODE.CLAIMED) return unexpected(code);
  const already = Number(reply[1]) === 1;
  if (reply.length === SHORT_CLAIM_SLOTS) return { status: 'claimed', already, node: usualClaimedFrom(String(reply[2]), task, attempt) };
  return { status: 'claimed', already, node: claimedFrom(reply, 2, task) };
}

/** Slots of a claim's short reply. */
const SHORT_CLAIM_SLOTS = 3;

/** A claimed node whose claimed fields hold their usual values, from its spec text: no input, retries, redeliveries or errbacks. */
function usualClaimedFrom(specText: string, task: string, attempt: number): ClaimedNode {
  const spec = parseSpecText(specText, task);
  return {
    task: spec.task, args: spec.args, options: spec.options, attempt, retries: 0, redeliveries: 0, kind: 'task',
    errbacks: spec.errbacks, errbackCount: 0,
  };
}

/**
 * A claimed node from the 8 slots Lua returns from `at` (advance.lua claimedFields): spec, has input, input,
 * attempt, retries, redeliveries, kind, errback count.
 */
function claimedFrom(reply: Reply, at: number, task: string): ClaimedNode {
  const spec = parseSpecText(String(reply[at]), task);
  const args: JsonValue[] = Number(reply[at + 1]) === 1 ? [parseJson(String(reply[at + 2])), ...spec.args] : spec.args;
  return {
    task: spec.task, args, options: spec.options, attempt: Number(reply[at + 3]), retries: Number(reply[at + 4]),
    redeliveries: Number(reply[at + 5]), kind: reply[at + 6] === 'errback' ? 'errback' : 'task', errbacks: spec.errbacks,
    errbackCount: Number(reply[at + 7]),
  };
}

/**
 * A completion's reply: `{ code, settled or '', run, next, ready... }`, `next` 0 or the continuation (advance.lua
 * continued: the node's message, id, task, attempt, queue, priority or '', then its claimed fields).
 */
export function completeFrom(reply: Reply, workflowId: string): CommitResult & { run: number } {
  const result = commitFrom(reply, workflowId, 4);
  const next = reply[3];
  if (!Array.isArray(next)) return result;
  const c = next as Reply;
  const priority = String(c[4]);
  const message: ReadyNode = {
    workflowId, nodeId: String(c[0]), task: String(c[1]), attempt: Number(c[2]), queue: String(c[3]),
    ...(priority !== '' ? { priority: Number(priority) } : {}), delayMs: 0,
  };
  return { ...result, next: { message, node: claimedFrom(c, 5, message.task) } };
}

/** A commit's reply: `{ code, settled or '', run, ready... }` (the ready messages from `readyAt`). */
export function commitFrom(reply: Reply, workflowId: string, readyAt = 3): CommitResult & { run: number } {
  const code = Number(reply[0]);
  const status = code === CODE.OK ? 'ok' : code === CODE.ALREADY ? 'already' : code === CODE.STALE ? 'stale' : code === CODE.ORPHAN ? 'orphan' : unexpected(code);
  const settled = String(reply[1] ?? '');
  return {
    status, ready: status === 'ok' ? readyFrom(reply, readyAt, workflowId) : [], run: Number(reply[2] ?? 0),
    ...(settled !== '' ? { settled: settled as WorkflowState } : {}),
  };
}

/** A renewal's reply. */
export function renewFrom(reply: Reply): 'ok' | 'lost' | 'canceled' {
  const code = Number(reply[0]);
  return code === CODE.OK ? 'ok' : code === CODE.LOST ? 'lost' : code === CODE.CANCELED ? 'canceled' : unexpected(code);
}

/** A cancel's reply, with the run generation for the index and whether open nodes are left for another step. */
export function cancelFrom(reply: Reply): CancelResult & { run: number; more: boolean } {
  const code = Number(reply[0]);
  if (code === CODE.MISSING) return { status: 'missing', run: 0, more: false };
  const status = code === CODE.OK ? 'ok' : code === CODE.ALREADY ? 'already' : unexpected(code);
  return { status, state: String(reply[1]) as WorkflowState, run: Number(reply[2]), more: Number(reply[3] ?? 0) === 1 };
}

/** A replay's reply, with the new run generation. */
export function replayFrom(reply: Reply, workflowId: string): ReplayResult & { run?: number } {
  const code = Number(reply[0]);
  if (code === CODE.MISSING) return { status: 'missing' };
  if (code === CODE.REFUSED) return { status: 'refused', state: String(reply[1]) as WorkflowState };
  if (code === CODE.UNKNOWN_NODES) return { status: 'unknown_nodes', nodes: reply.slice(1).map(String) };
  if (code !== CODE.OK) return unexpected(code);
  const settled = String(reply[2] ?? '');
  const count = Number(reply[3]);
  const nodes = reply.slice(4, 4 + count).map(String);
  return {
    status: 'ok', nodes, ready: readyFrom(reply, 4 + count, workflowId), run: Number(reply[1]),
    ...(settled !== '' ? { settled: settled as WorkflowState } : {}),
  };
}

/** One workflow's sweep. */
export type SweepOne =
  | { status: 'ok'; redelivered: number; lost: number; settled?: WorkflowState; run: number; ready: ReadyNode[]; lostNodes?: ReadyNode[] }
  | { status: 'not_running'; state: WorkflowState; run: number }
  | { status: 'missing' };

/** What a sweep found in an idle workflow: nothing (never changed by its readers). */
const IDLE_SWEEP: SweepOne = Object.freeze({ status: 'ok', redelivered: 0, lost: 0, run: 0, ready: Object.freeze([]) as unknown as ReadyNode[] });

/** A per-workflow sweep's reply: `{ code, ... }`, or the bare code OK for an idle workflow (sweep_many's quick way). */
export function sweepFrom(reply: Reply | number, workflowId: string): SweepOne {
  // An idle workflow of sweep_many's quick way (lua/compact.lua quickSweep): the bare code, nothing found.
  if (typeof reply === 'number') return reply === CODE.OK ? IDLE_SWEEP : unexpected(reply);
  const code = Number(reply[0]);
  if (code === CODE.MISSING) return { status: 'missing' };
  if (code === CODE.NOT_RUNNING) return { status: 'not_running', state: String(reply[1]) as WorkflowState, run: Number(reply[2]) };
  if (code !== CODE.OK) return unexpected(code);
  const settled = String(reply[3] ?? '');
  const lostNodes = Array.isArray(reply[5]) && reply[5].length > 0 ? readyFrom(reply[5] as Reply, 0, workflowId) : undefined;
  return {
    status: 'ok', redelivered: Number(reply[1]), lost: Number(reply[2]), run: Number(reply[4]),
    ready: readyFrom(reply, 6, workflowId), ...(settled !== '' ? { settled: settled as WorkflowState } : {}),
    ...(lostNodes ? { lostNodes } : {}),
  };
}

/**
 * A script error raised by `move()` in Lua for a transition the machine refuses: the same bug the step
 * functions report with {@link IllegalTransition}. Other errors are returned unchanged.
 */
export function scriptError(error: unknown): unknown {
  const message = error instanceof Error ? error.message : '';
  const found = /braid: illegal transition\|([^|]*)\|([^|]*)\|([A-Z_]+)/.exec(message);
  return found ? new IllegalTransition(found[1]!, found[2]!, found[3]!) : error;
}

function unexpected(code: number): never {
  throw new Error(`braid redis store: unexpected script reply code ${code}`);
}
