/**
 * Key layout of the Redis store (docs/redis-data-model.md). Every key of one workflow carries the hash tag
 * `{prefix:workflowId}` (DESIGN inv 8), so each transition script touches one cluster slot; the few global
 * keys (`prefix:active`, `prefix:epoch`, `prefix:sweep`) are only ever written by single-key commands.
 */
import { CanvasError } from '../../core/errors.js';
import { isWorkflowId } from '../../runtime/ids.js';

export { isWorkflowId };

/** The suffixes of one workflow's keys, in key mask order (lib.lua KEY_ORDER). */
export const WORKFLOW_KEY_SUFFIXES = [
  'wf', 'order', 'spec', 'node', 'deps', 'next', 'input', 'repl', 'res', 'err', 'leases', 'ready', 'eb', 'hidden', 'hist',
] as const;

/** The name of one of a workflow's keys. */
export type WorkflowKeyName = (typeof WORKFLOW_KEY_SUFFIXES)[number];

function checkWorkflowId(id: string): string {
  if (!isWorkflowId(id)) throw new CanvasError(`invalid workflow id ${JSON.stringify(id)}`);
  return id;
}

/** Checks a store prefix: the same alphabet as workflow ids, so the hash tag cannot be split. */
export function checkPrefix(prefix: string): string {
  if (!/^[A-Za-z0-9._:-]{1,64}$/.test(prefix)) {
    throw new CanvasError(`invalid store prefix ${JSON.stringify(prefix)}: 1-64 of A-Z a-z 0-9 . _ : -`);
  }
  return prefix;
}

/** Key names of one store (one prefix). */
export class KeySpace {
  /** Zset of running workflows: workflow id -> run generation (the sweep's work list). */
  readonly active: string;
  /** The store epoch (RELIABILITY D4). */
  readonly epoch: string;
  /** Where the next sweep starts in {@link KeySpace.active}: a counter every sweeper of this prefix advances. */
  readonly sweepCursor: string;
  /** Pub/sub channel of settle and cancel notifications. */
  readonly events: string;

  constructor(readonly prefix: string) {
    checkPrefix(prefix);
    this.active = `${prefix}:active`;
    this.epoch = `${prefix}:epoch`;
    this.sweepCursor = `${prefix}:sweep`;
    this.events = `${prefix}:events`;
  }

  /** The hash tag of a workflow's keys. */
  tag(workflowId: string): string {
    return `{${this.prefix}:${workflowId}}`;
  }

  /**
   * The one key a per-workflow script declares, the workflow's `wf` key (the script derives the others from its
   * tag, lib.lua). Throws CanvasError for an invalid id.
   */
  wf(workflowId: string): string {
    return this.wfOfChecked(checkWorkflowId(workflowId));
  }

  /** {@link KeySpace.wf} of an id its caller checked already (the batches: every entry's id is checked on the way in). */
  wfOfChecked(workflowId: string): string {
    return `${this.tag(workflowId)}:wf`;
  }

  /** One named key of a workflow. */
  key(workflowId: string, name: WorkflowKeyName): string {
    return `${this.tag(workflowId)}:${name}`;
  }
}
