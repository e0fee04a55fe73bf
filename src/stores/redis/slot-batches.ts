/**
 * Groups the creates, claims and completes issued in one tick by script and cluster slot (slot.ts): those of one
 * slot go out as one `create_many` / `claim_many` / `complete_many` call, whatever their workflows, so a burst of
 * small workflows with slot-steered ids (mint.ts) costs one function call per few hundred transitions, and every
 * call still touches one slot (DESIGN inv 8). A lone entry goes as its plain script. Every caller gets its own
 * entry's reply, or its own entry's error: a workflow whose entries raise an error in Lua answers CODE.ERROR for
 * them, the batch's other workflows are unaffected (the `_many` scripts run each workflow under `pcall`).
 *
 * A batch is capped ({@link BATCH_LIMITS}) so that one call never holds Redis long; an entry larger than the cap
 * (a 100,000-node create) goes alone. A batch is as safe to run twice as its entries are (RELIABILITY D1/D2), so
 * the retries of scripts.ts (AbortError, a lost library) re-send it whole.
 */
import type { QueuePush } from '../../core/queue-push.js';
import type { RideLink, Rider } from '../../core/write-carrier.js';
import { CODE, scriptError, type Reply } from './codes.js';
import type { ScriptName } from './library.js';
import { prefixCrc, slotAfter } from './slot.js';

/** The scripts whose calls are batched by slot. */
export type BatchedScript = 'create' | 'claim' | 'complete';

/** A number per batched script: a batch's key in {@link SlotBatcher} is its slot times 3 plus this. */
const SCRIPT_INDEX: Readonly<Record<BatchedScript, number>> = { create: 0, claim: 1, complete: 2 };

/** Caps of one batch call: entries, arguments, and bytes of argument text. */
export const BATCH_LIMITS = { entries: 256, args: 8_192, bytes: 4 * 1024 * 1024 } as const;

interface Entry {
  /** Its script arguments, until they are in the batch's call ({@link SlotBatcher} lets go of them then). */
  args: string[];
  resolve: (reply: Reply) => void;
  reject: (error: unknown) => void;
  /** Broker pushes to send right behind the entry's call, and who hears how they went. */
  pushes?: { list: readonly QueuePush[]; sent: (outcome: Promise<unknown>) => void };
}
interface WorkflowGroup { workflowId: string; entries: Entry[]; args: number }
interface Batch {
  name: BatchedScript;
  groups: WorkflowGroup[];
  byWorkflow: Map<string, WorkflowGroup>;
  entries: number;
  args: number;
  bytes: number;
}

/** How a batcher reaches the store: its key names and a script call. */
export interface BatchTarget {
  prefix: string;
  /** The `wf` key of a workflow (the one declared key of its scripts); the id is checked before {@link SlotBatcher.add}. */
  wfKey(workflowId: string): string;
  /** ARGV[2..4] of every per-workflow script: history flag, retentionMs, events channel. */
  shared: readonly string[];
  /** Runs a script (scripts.ts `run`); with `link`, on that connection (a ride, core/write-carrier.ts). */
  run(name: ScriptName, keys: string[], args: string[], link?: RideLink): Promise<Reply>;
  /** Gives a tick's claims to the ride a broker consumer on this server opened; false when none is open. */
  ride?(rider: Rider): boolean;
  /** Called just before a tick's batches leave (the sweep index writes go first, sweeper.ts). */
  beforeSend(): void;
  /** Sends broker pushes (grouped: one RPUSH per list, one ZADD per marker) in this tick's write. */
  push(pushes: readonly QueuePush[]): Promise<unknown>;
  /** Writes what the store issued so far in this tick now (a full batch sent early: {@link SlotBatcher}). */
  sendNow(): void;
}

/** What an entry's arguments become once they are in its batch's call. */
const SENT: string[] = [];

function textBytes(args: readonly string[]): number {
  let bytes = 0;
  for (const a of args) bytes += a.length;
  return bytes;
}

/** One tick's batches of one store. */
export class SlotBatcher {
  /** The batches taking entries, by script and slot (a number: no key string to make per entry). */
  private readonly open = new Map<number, Batch>();
  private readonly full: Batch[] = [];
  private scheduled = false;
  /** CRC16 of the store's `prefix:` (slot.ts), hashed once instead of per entry. */
  private readonly prefixCrc: number;

  constructor(private readonly target: BatchTarget) {
    this.prefixCrc = prefixCrc(target.prefix);
  }

  /**
   * Queues one entry of `name` for `workflowId`; resolves with that entry's reply. `pushes` go right behind the
   * entry's call, with those of the other entries of its batch (target.push), in the same write; `pushes.sent`
   * hears how they went.
   */
  add(name: BatchedScript, workflowId: string, args: string[], pushes?: Entry['pushes']): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => {
      if (!this.scheduled) {
        this.scheduled = true;
        process.nextTick(() => this.send());
      }
      const key = slotAfter(this.prefixCrc, workflowId) * 3 + SCRIPT_INDEX[name];
      const bytes = textBytes(args);
      let batch = this.open.get(key);
      if (batch && (batch.entries >= BATCH_LIMITS.entries || batch.args + args.length > BATCH_LIMITS.args || batch.bytes + bytes > BATCH_LIMITS.bytes)) {
        this.full.push(batch);
        batch = undefined;
      }
      if (!batch) this.open.set(key, (batch = { name, groups: [], byWorkflow: new Map(), entries: 0, args: 0, bytes: 0 }));
      // Creates are one group each (two creates of one id: the second answers EXISTS); claims and completes of
      // one workflow share its group, applied in call order on the workflow loaded once.
      let group = name === 'create' ? undefined : batch.byWorkflow.get(workflowId);
      if (!group) {
        batch.groups.push((group = { workflowId, entries: [], args: 0 }));
        if (name !== 'create') batch.byWorkflow.set(workflowId, group);
      }
      group.entries.push(pushes ? { args, resolve, reject, pushes } : { args, resolve, reject });
      group.args += args.length;
      batch.entries++;
      batch.args += args.length;
      batch.bytes += bytes;
      if (batch.entries >= BATCH_LIMITS.entries && name !== 'claim' && this.full.length === 0) this.sendEarly(key, batch);
    });
  }

  /**
   * Sends a create or complete batch the moment it is full, instead of at the tick's end: Redis runs it while
   * this tick issues the rest (a producer's burst of starts, a worker's burst of completions), where it would
   * otherwise wait, idle, for the whole burst. Only while no batch waits in `full` (capped by arguments or
   * bytes), so batches still leave in the order they filled. Claims wait for the tick's end: they may ride in a
   * consumer's block (core/write-carrier.ts).
   */
  private sendEarly(key: number, batch: Batch): void {
    this.open.delete(key);
    this.target.beforeSend();
    this.sendOne(batch);
    this.target.sendNow();
  }

  /** Sends this tick's batches, in the order they were opened (full ones first). */
  private send(): void {
    this.scheduled = false;
    const batches = [...this.full, ...this.open.values()];
    this.full.length = 0;
    this.open.clear();
    this.target.beforeSend();
    for (const batch of batches) {
      // Claims ride in the block the consumer that handed their deliveries out is about to write.
      if (batch.name === 'claim' && this.target.ride?.((link) => this.sendOne(batch, link))) continue;
      this.sendOne(batch);
    }
  }

  /**
   * Sends one batch. Every entry's promise settles on every path: its reply, its CODE.ERROR reply, the call's
   * error, a synchronous throw (a store closed meanwhile), or a batch reply that is not one reply per entry.
   */
  private sendOne(batch: Batch, link?: RideLink): void {
    const entries = batch.groups.flatMap((g) => g.entries);
    const rejectAll = (error: unknown): void => entries.forEach((e) => e.reject(error));
    const name = batch.name;
    try {
      if (entries.length === 1) {
        const [one] = entries as [Entry];
        const { workflowId } = batch.groups[0]!;
        // concat, not a spread: a lone create's arguments may be hundreds of thousands of strings.
        this.target.run(name, [this.target.wfKey(workflowId)], [workflowId, ...this.target.shared].concat(one.args), link).then(one.resolve, one.reject);
        this.sendPushes(entries);
        return;
      }
      const keys = batch.groups.map((g) => this.target.wfKey(g.workflowId));
      const args: string[] = [...this.target.shared];
      for (const group of batch.groups) {
        args.push(group.workflowId, String(group.args));
        for (const entry of group.entries) for (const a of entry.args) args.push(a);
      }
      this.target.run(`${name}_many`, keys, args, link).then((replies: unknown) => {
        if (!Array.isArray(replies) || replies.length !== entries.length) {
          rejectAll(new Error(`redis store: ${name}_many answered ${Array.isArray(replies) ? replies.length : typeof replies} replies for ${entries.length} entries`));
          return;
        }
        entries.forEach((e, i) => {
          const reply = replies[i] as Reply;
          if (Array.isArray(reply) && reply[0] === CODE.ERROR) e.reject(scriptError(new Error(String(reply[1]))));
          else e.resolve(reply);
        });
      }, rejectAll);
      this.sendPushes(entries);
    } catch (error) {
      rejectAll(error);
    }
  }

  /**
   * The pushes of a batch's entries, right behind its call: one send for all of them. The entries, which the
   * reply's handler keeps, let go of their arguments and pushes here: both are in the call and the pushes now.
   */
  private sendPushes(entries: Entry[]): void {
    let all: QueuePush[] | undefined;
    for (const entry of entries) if (entry.pushes) for (const push of entry.pushes.list) (all ??= []).push(push);
    const sent = all && this.target.push(all);
    sent?.catch(() => undefined); // each entry's caller awaits it
    for (const entry of entries) {
      entry.args = SENT;
      if (entry.pushes) {
        entry.pushes.sent(sent ?? Promise.resolve());
        entry.pushes = undefined;
      }
    }
  }

}
