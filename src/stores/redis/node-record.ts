/**
 * A node's state record as the `node` hash holds it (lua/lib.lua decodeRecord): the JSON text create or replace
 * wrote, until the first script that changes the node writes it back as MessagePack (Redis' cmsgpack). The first
 * byte tells them apart: `{` for JSON; a MessagePack map starts with 0x80-0x8f or 0xde.
 */
import { Decoder } from '@msgpack/msgpack';
import type { NodeState } from '../../runtime/machines.js';

/**
 * The fields a stored record leaves out while they hold their default (docs/redis-data-model.md): most nodes
 * never retry, are never redelivered and run on the default queue without a countdown or errbacks, so most of a
 * record was the same ten values. A chord header's record has about half the fields without them, and each
 * decode and encode in Lua (two of each per node: claim, complete) does about half the work. Readers fill them
 * back in: lib.lua's decodeRecord (library.ts generates its `withDefaults` from this table), TypeScript with
 * {@link withRecordDefaults}; `e` (errback indexes) is left out while empty. A record written with a field at its
 * default reads the same. These are constants of the stored format, not the options' defaults: a change here
 * changes what records already stored mean (bump LIBRARY_VERSION; docs/operations.md "Upgrading braid").
 */
export const RECORD_DEFAULTS = Object.freeze({
  /** Dependencies not yet met. */ r: 0,
  /** Attempt. */ a: 1,
  /** Retries, redeliveries, starts. */ rt: 0, rd: 0, n: 0,
  /** Kind. */ k: 'task',
  /** countdownMs. */ c: 0,
  /** maxRedeliveries (DEFAULT_OPTIONS' today). */ m: 5,
  /** Queue (DEFAULT_OPTIONS' today). */ qu: 'default',
});

/** `record` with each field of {@link RECORD_DEFAULTS} it lacks set to its default (in place). */
export function withRecordDefaults<T extends object>(record: T): T {
  const fields = record as Record<string, unknown>;
  for (const [field, value] of Object.entries(RECORD_DEFAULTS)) if (fields[field] === undefined) fields[field] = value;
  return record;
}

/**
 * A node's state record in the short-key form lib.lua keeps (the fields a read needs; the others are listed in
 * docs/redis-data-model.md); the runtime's own form is NodeRecord of src/runtime/step/record.ts.
 */
export interface StoredNodeRecord {
  /** State. */ s: NodeState;
  /** Dependencies not yet met. */ r: number;
  /** Attempt. */ a: number;
  /** Retries in this run. */ rt: number;
  /** Redeliveries in this run. */ rd: number;
  /** Starts (snapshot `attempts`). */ n: number;
  /** Kind. */ k: 'task' | 'errback';
  /** Task name. */ t: string;
  /** Result hidden (ignoreResult). */ h?: boolean;
  /** Started at, finished at (epoch ms, store time). */ sa?: number; fa?: number;
  /** The node this one replaces. */ rp?: string;
}

const OPEN_BRACE = 0x7b;
/** One decoder for every read: it keeps no state between calls but its buffers. */
const decoder = new Decoder();

/** Decodes a stored node record, JSON or MessagePack. */
export function decodeNodeRecord(raw: Buffer): StoredNodeRecord {
  if (raw[0] === OPEN_BRACE) return parseNodeRecord(raw.toString('utf8'));
  const decoded = decoder.decode(raw);
  if (decoded === null || typeof decoded !== 'object' || Array.isArray(decoded)) throw new Error('redis store: a node record is not a map');
  return withRecordDefaults(decoded as StoredNodeRecord);
}

/** Parses a node record's JSON text (as create writes it, or a compact workflow's `_rec`). */
export function parseNodeRecord(text: string): StoredNodeRecord {
  return withRecordDefaults(JSON.parse(text) as StoredNodeRecord);
}
