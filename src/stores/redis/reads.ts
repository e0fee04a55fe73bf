/**
 * Read-only views of a workflow stored in Redis (src/runtime/step/view.ts): the snapshot, the cheap settled
 * outcome and the test-mode history. Each reads its keys in one MULTI, so it sees one consistent state; a failed
 * outcome reads in two and checks that the workflow did not change in between (readFailures).
 */
import type { Redis } from 'ioredis';
import type { ErrorInfo } from '../../core/errors.js';
import { parseJson } from '../../core/json.js';
import type { NodeSnapshot, WorkflowSnapshot } from '../../core/snapshot.js';
import { FINAL_NODE_STATES, type NodeState, type WorkflowState } from '../../runtime/machines.js';
import type { TransitionRecord, WorkflowOutcome } from '../store.js';
import { execResults } from './connection.js';
import type { KeySpace } from './keys.js';
import { decodeNodeRecord, parseNodeRecord, type StoredNodeRecord } from './node-record.js';
import { parseSpecText } from './spec-text.js';

/** The snapshot of a workflow, or null when it does not exist. */
export async function readSnapshot(client: Redis, keys: KeySpace, id: string): Promise<WorkflowSnapshot | null> {
  const [meta, order, specs, nodes, res, errs] = execResults(await client.multi()
    .hmget(keys.key(id, 'wf'), 'state', 'createdAt', 'settledAt', 'result', 'cz', ...COMPACT_SNAPSHOT_FIELDS)
    .lrange(keys.key(id, 'order'), 0, -1)
    .hgetall(keys.key(id, 'spec'))
    .hgetallBuffer(keys.key(id, 'node'))
    .hgetall(keys.key(id, 'res'))
    .hgetall(keys.key(id, 'err'))
    .exec()) as [Array<string | null>, string[], Record<string, string>, Record<string, Buffer>, Record<string, string>, Record<string, string>];
  const [state, createdAt, settledAt, result, canceling, compactId, ...compact] = meta;
  if (!state) return null;
  const snapshot: WorkflowSnapshot = {
    id, state: state as WorkflowState, createdAt: Number(createdAt),
    nodes: compactId
      ? [compactNodeSnapshot(compactId, compact, result ?? undefined)]
      : order.map((nodeId) => nodeSnapshot(nodeId, specs[nodeId], nodes[nodeId], res[nodeId], errs[nodeId])),
  };
  // A cancel in steps (lua/advance.lua cancelNodes) not yet past every node: those it has not reached are canceled
  // already (no claim, no commit goes through), and read as what the next steps will write: canceled, finished
  // at the cancel.
  if (canceling) {
    for (const node of snapshot.nodes) {
      if (FINAL_NODE_STATES.has(node.state)) continue;
      node.state = 'canceled';
      if (settledAt) node.finishedAt = Number(settledAt);
    }
  }
  if (settledAt) snapshot.settledAt = Number(settledAt);
  if (result) snapshot.result = parseJson(result);
  return snapshot;
}

/**
 * The node fields of the compact one-node layout (lua/compact.lua) a snapshot reads after `_id`: spec, initial
 * record, state, starts, started at, finished at, ignoreResult, task.
 */
const COMPACT_SNAPSHOT_FIELDS = ['_id', '_spec', '_rec', '_s', '_n', '_sa', '_fa', '_h', '_t'] as const;

/**
 * The one node of a compact workflow: its record is the initial one with the flat fields folded in. A compact
 * workflow keeps no `_rec` when that is the default record of its task (compact.lua defaultRecord).
 */
function compactNodeSnapshot(id: string, fields: Array<string | null | undefined>, workflowResult?: string): NodeSnapshot {
  const [specText, recText, state, starts, startedAt, finishedAt, hidden, task] = fields;
  if (!specText || !state || (!recText && !task)) throw new Error(`redis store: compact node ${id} is incomplete`);
  const rec = parseNodeRecord(recText || `{"s":"pending","t":${JSON.stringify(task)},"ni":true}`);
  rec.s = state as NodeState;
  rec.n = Number(starts ?? 0);
  if (startedAt) rec.sa = Number(startedAt);
  if (finishedAt) rec.fa = Number(finishedAt);
  if (hidden) rec.h = true;
  // The one node's result is the workflow's (its recipe is that node).
  return nodeSnapshot(id, specText, rec, state === 'succeeded' ? workflowResult : undefined);
}

function nodeSnapshot(id: string, specText?: string, stored?: Buffer | StoredNodeRecord, result?: string, error?: string): NodeSnapshot {
  if (specText === undefined || stored === undefined) throw new Error(`redis store: node ${id} is listed but not stored`);
  const rec = Buffer.isBuffer(stored) ? decodeNodeRecord(stored) : stored;
  const spec = parseSpecText(specText, rec.t);
  const s: NodeSnapshot = {
    id, task: spec.task, state: rec.s === 'waiting' ? 'running' : rec.s, deps: spec.deps, attempts: rec.n,
    args: spec.args, kind: rec.k, queue: spec.dispatch.queue, redeliveries: rec.rd,
  };
  if (result !== undefined && !rec.h) s.result = parseJson(result);
  if (error !== undefined) s.error = parseJson(error) as unknown as ErrorInfo;
  if (rec.sa !== undefined) s.startedAt = rec.sa;
  if (rec.fa !== undefined) s.finishedAt = rec.fa;
  if (rec.rp !== undefined) s.replacing = rec.rp;
  return s;
}

/** Node records one HMGET of a failed outcome asks for. */
const RECORDS_PER_READ = 10_000;

/**
 * The workflow's state and, once settled, its result or failures; null when unknown. `recordsPerRead`: node records
 * one HMGET asks for (tests make it small).
 */
export async function readOutcome(client: Redis, keys: KeySpace, id: string, recordsPerRead = RECORDS_PER_READ): Promise<WorkflowOutcome | null> {
  for (let tries = 1; ; tries++) {
    const [state, result, run] = await client.hmget(keys.key(id, 'wf'), 'state', 'result', 'run');
    if (!state) return null;
    const outcome: WorkflowOutcome = { state: state as WorkflowState, failures: [] };
    if (result) outcome.result = parseJson(result);
    if (state !== 'failed') return outcome;
    const failures = await readFailures(client, keys, id, run ?? null, recordsPerRead);
    // Undefined: the workflow was replayed between the reads; read it again (a replay can settle again at once).
    if (failures !== undefined || tries === MAX_OUTCOME_READS) {
      outcome.failures = failures ?? [];
      return outcome;
    }
  }
}

/** Reads of an outcome before one whose workflow keeps changing under it is returned as it was read. */
const MAX_OUTCOME_READS = 3;

/**
 * The failures of a failed workflow in creation order: its task nodes that failed and have an error, less replaced
 * ones (a replaced node fails with its fragment's error: the fragment node is the failure to report). Only the
 * records of nodes with an error are read, not every record: a failed 100,000-node chord with five failures
 * reads five. The ids and the records come in two reads, each with the workflow's state and run; undefined when
 * either differs from `run` or the workflow is no longer failed (a replay came in between).
 */
async function readFailures(
  client: Redis, keys: KeySpace, id: string, run: string | null, recordsPerRead: number,
): Promise<WorkflowOutcome['failures'] | undefined> {
  const wf = keys.key(id, 'wf');
  const [first, order, errs, replaced] = execResults(await client.multi()
    .hmget(wf, 'state', 'run')
    .lrange(keys.key(id, 'order'), 0, -1)
    .hgetall(keys.key(id, 'err'))
    .hkeys(keys.key(id, 'repl'))
    .exec()) as [Array<string | null>, string[], Record<string, string>, string[]];
  const unchanged = (seen: Array<string | null>): boolean => seen[0] === 'failed' && seen[1] === run;
  if (!unchanged(first)) return undefined;
  const skip = new Set(replaced);
  const ids = order.filter((nodeId) => errs[nodeId] !== undefined && !skip.has(nodeId));
  if (ids.length === 0) return [];
  // In chunks: one spread of 120,000 ids or more would overflow the stack.
  const multi = client.multi().hmget(wf, 'state', 'run');
  for (let at = 0; at < ids.length; at += recordsPerRead) multi.hmgetBuffer(keys.key(id, 'node'), ...ids.slice(at, at + recordsPerRead));
  const [second, ...chunks] = execResults(await multi.exec()) as [Array<string | null>, ...Array<Array<Buffer | null>>];
  if (!unchanged(second)) return undefined;
  const records = chunks.flat();
  const failures: WorkflowOutcome['failures'] = [];
  ids.forEach((nodeId, i) => {
    const stored = records[i];
    if (!stored) return;
    const rec = decodeNodeRecord(stored);
    if (rec.k === 'task' && rec.s === 'failed') failures.push({ nodeId, task: rec.t, error: parseJson(errs[nodeId]!) as unknown as ErrorInfo });
  });
  return failures;
}

/** The applied transitions of a workflow (history mode). */
export async function readHistory(client: Redis, keys: KeySpace, id: string): Promise<TransitionRecord[]> {
  const items = await client.lrange(keys.key(id, 'hist'), 0, -1);
  return items.map((text) => {
    const h = JSON.parse(text) as TransitionRecord;
    return { node: h.node, from: h.from, to: h.to, attempt: h.attempt, ...(h.token !== undefined ? { token: h.token } : {}) };
  });
}
