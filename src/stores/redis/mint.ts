/**
 * Slot-steered workflow ids: ids minted in the same tick have hash tags `{prefix:id}` in one Redis Cluster slot,
 * so the store can send their creates, claims and completes as one function call (redis-store.ts) and stay
 * cluster-safe (DESIGN inv 8). Each group of at most {@link MINT_GROUP_SIZE} ids gets a fresh random slot, so
 * a cluster still spreads the load.
 *
 * An id is 16 random base64url characters (96 random bits: unique) followed by a 3-character suffix that steers
 * the slot. CRC16/XMODEM is linear (zero init, no final xor): crc(M ‖ S) = crc(M ‖ 000) xor crc(S) for a
 * 3-byte S. A table built once maps every 14-bit value to a suffix S with that value as the low 14 bits of
 * crc(S) (the 64³ suffixes cover all 16,384 values; checked when the table is built), so steering costs one CRC
 * pass over the id and a lookup.
 */
import { randomFillSync, randomInt } from 'node:crypto';
import { crc16, crc16Zeros, prefixCrc, SLOT_COUNT } from './slot.js';

/** Most minted ids remembered as not yet created (past it they are forgotten: their create only costs more). */
export const MINTED_REMEMBERED = 100_000;

/** Most ids minted into one slot before the next id picks a new one (the store's batches stay small). */
export const MINT_GROUP_SIZE = 256;

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const SUFFIX_LENGTH = 3;
const RANDOM_BYTES = 12; // 16 base64url characters
const POOL_IDS = 256;

let suffixes: string[] | undefined;

/**
 * Suffix by the low 14 bits of its CRC16 (built on first use). CRC16/XMODEM is linear, so the CRC of `abc` is
 * the xor of the CRCs of `a\0\0`, `\0b\0` and `\0\0c`: three tables of 64 and one xor per suffix instead of a
 * CRC pass over each of the 262,144 (35-48 ms on the first start of a process; now 4-8). The first suffix
 * in alphabet order wins each value, as a CRC of each in turn would pick.
 */
function suffixTable(): string[] {
  if (suffixes) return suffixes;
  const byPosition = [0, 1, 2].map((position) => Array.from(ALPHABET, (char) => crc16Zeros(crc16(char, crc16Zeros(0, position)), SUFFIX_LENGTH - 1 - position)));
  const [first, second, third] = byPosition as [number[], number[], number[]];
  const table = new Array<string>(SLOT_COUNT);
  let filled = 0;
  fill: for (let a = 0; a < ALPHABET.length; a++) {
    for (let b = 0; b < ALPHABET.length; b++) {
      if (filled === SLOT_COUNT) break fill;
      const head = first[a]! ^ second[b]!;
      for (let c = 0; c < ALPHABET.length; c++) {
        const value = (head ^ third[c]!) & (SLOT_COUNT - 1);
        if (table[value] === undefined) {
          table[value] = ALPHABET[a]! + ALPHABET[b]! + ALPHABET[c]!;
          filled++;
        }
      }
    }
  }
  if (filled !== SLOT_COUNT) throw new Error(`mint: 3-character suffixes cover ${filled} of ${SLOT_COUNT} slots`);
  suffixes = table;
  return table;
}

/** Mints workflow ids for one store prefix, grouped by slot per tick. */
export class SlotMinter {
  private readonly prefixCrc: number;
  private pool = '';
  private poolAt = 0;
  private group: { slot: number; count: number } | undefined;
  /** Ids minted and not yet created (see {@link SlotMinter.fresh}). */
  private readonly minted = new Set<string>();

  constructor(prefix: string) {
    this.prefixCrc = prefixCrc(prefix);
  }

  /** The slot of the group the next id joins when minted in this tick (a fresh one otherwise). */
  get slot(): number | undefined {
    return this.group?.slot;
  }

  /** A fresh id whose tag lands in this tick's current slot group. */
  mint(): string {
    let group = this.group;
    if (!group || group.count >= MINT_GROUP_SIZE) {
      if (!group) process.nextTick(() => (this.group = undefined));
      this.group = group = { slot: randomInt(SLOT_COUNT), count: 0 };
    }
    group.count++;
    const id = steer(this.prefixCrc, this.random(), group.slot);
    if (this.minted.size >= MINTED_REMEMBERED) this.minted.clear();
    this.minted.add(id);
    return id;
  }

  /**
   * True the first time it is asked about an id this minter minted (and still remembers): a workflow of that
   * id was never created, so no keys of one can be left over (create.lua skips their DEL).
   */
  fresh(id: string): boolean {
    return this.minted.delete(id);
  }

  /** 16 random base64url characters, cut from a pool filled 256 ids at a time. */
  private random(): string {
    if (this.poolAt >= this.pool.length) {
      this.pool = randomFillSync(Buffer.alloc(RANDOM_BYTES * POOL_IDS)).toString('base64url');
      this.poolAt = 0;
    }
    const out = this.pool.slice(this.poolAt, this.poolAt + 16);
    this.poolAt += 16;
    return out;
  }
}

/** `random` plus the suffix that puts `{prefix:id}` in `slot`, given `prefixCrc` = CRC16 of `prefix:`. */
export function steer(prefixCrc: number, random: string, slot: number): string {
  const head = crc16Zeros(crc16(random, prefixCrc), SUFFIX_LENGTH);
  return random + suffixTable()[(head ^ slot) & (SLOT_COUNT - 1)]!;
}
