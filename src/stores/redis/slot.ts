/**
 * Redis Cluster hash slots of the store's keys: CRC16/XMODEM (polynomial 0x1021, zero init, no reflection, no
 * final xor) of the hash tag's content, modulo 16384, exactly what Redis Cluster and `cluster-key-slot` compute.
 * The store groups the calls of one tick by slot (redis-store.ts) and mints ids whose tags share a slot
 * (mint.ts); both hash ASCII text only (prefix and workflow id alphabets are ASCII, keys.ts).
 */

/** Number of hash slots of a Redis Cluster. */
export const SLOT_COUNT = 16_384;

const TABLE = new Uint16Array(256);
for (let byte = 0; byte < 256; byte++) {
  let crc = byte << 8;
  for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  TABLE[byte] = crc;
}

/** CRC16/XMODEM of the ASCII text `text`, continuing from `crc` (0 to start). */
export function crc16(text: string, crc = 0): number {
  for (let i = 0; i < text.length; i++) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ text.charCodeAt(i)) & 0xff]!;
  return crc;
}

/** CRC16/XMODEM of `crc`'s message followed by `count` zero bytes. */
export function crc16Zeros(crc: number, count: number): number {
  for (let i = 0; i < count; i++) crc = ((crc << 8) & 0xffff) ^ TABLE[(crc >> 8) & 0xff]!;
  return crc;
}

/** The cluster slot of the keys of workflow `workflowId` under `prefix` (hash tag `{prefix:workflowId}`). */
export function workflowSlot(prefix: string, workflowId: string): number {
  return crc16(workflowId, crc16(':', crc16(prefix))) & (SLOT_COUNT - 1);
}

/**
 * CRC16/XMODEM of `prefix:`, the part of the tag `{prefix:workflowId}` every workflow of one store shares:
 * computed once per store, then {@link slotAfter} hashes only the id.
 */
export function prefixCrc(prefix: string): number {
  return crc16(`${prefix}:`);
}

/** {@link workflowSlot} of `workflowId` under the prefix whose {@link prefixCrc} is `crc`. */
export function slotAfter(crc: number, workflowId: string): number {
  return crc16(workflowId, crc) & (SLOT_COUNT - 1);
}
