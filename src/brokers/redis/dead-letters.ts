/**
 * Reading dead letters back. Each queue keeps its own capped list (`…:dead`, newest first, written by the
 * `deadLetter` script in the queue's slot); listing them all finds those lists with SCAN and merges by time.
 */
import type { Redis } from 'ioredis';
import type { DeadLetter } from '../broker.js';
import { deadLetterPattern } from './keys.js';

/** Parses one stored dead letter; `undefined` for anything malformed (never throws). */
export function parseDeadLetter(raw: string): DeadLetter | undefined {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { queue, reason, detail, body, at } = value as Record<string, unknown>;
  if (typeof queue !== 'string' || typeof reason !== 'string' || typeof body !== 'string' || typeof at !== 'number') return undefined;
  const letter: DeadLetter = { queue, reason, body, at };
  if (typeof detail === 'string') letter.detail = detail;
  return letter;
}

/** The newest `limit` dead letters across every queue under `prefix`, newest first. */
export async function readDeadLetters(redis: Redis, prefix: string, limit: number): Promise<DeadLetter[]> {
  if (limit <= 0) return [];
  const keys = new Set<string>();
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', deadLetterPattern(prefix), 'COUNT', 1_000);
    cursor = next;
    for (const key of found) keys.add(key);
  } while (cursor !== '0');
  const letters: DeadLetter[] = [];
  for (const key of keys) {
    for (const raw of await redis.lrange(key, 0, limit - 1)) {
      const letter = parseDeadLetter(raw);
      if (letter !== undefined) letters.push(letter);
    }
  }
  return letters.sort((a, b) => b.at - a.at).slice(0, limit);
}
