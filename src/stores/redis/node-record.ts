/**
 * A node's state record as the `node` hash holds it (lua/lib.lua decodeRecord): the JSON text create or replace
 * wrote, until the first script that changes the node writes it back as MessagePack (Redis' cmsgpack). The first
 * byte tells them apart: `{` for JSON; a MessagePack map starts with 0x80-0x8f or 0xde.
 */
import { Decoder } from '@msgpack/msgpack';
import type { NodeState } from '../../runtime/machines.js';

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
  if (raw[0] === OPEN_BRACE) return JSON.parse(raw.toString('utf8')) as StoredNodeRecord;
  const decoded = decoder.decode(raw);
  if (decoded === null || typeof decoded !== 'object' || Array.isArray(decoded)) throw new Error('redis store: a node record is not a map');
  return decoded as StoredNodeRecord;
}
