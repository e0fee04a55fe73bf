/**
 * Shared by the Redis store's batch tests: a server per test file, stores under a fresh prefix, plain clients,
 * and a count of the FCALLs a piece of a test sends (MONITOR), each closed when its test ends.
 */
import { randomUUID } from 'node:crypto';
import type { TestContext } from 'node:test';
import { Redis } from 'ioredis';
import { RedisStore } from '../../src/stores/redis/redis-store.js';
import { storeLibrary } from '../../src/stores/redis/scripts.js';
import { RedisServer } from '../support/redis-server.js';

/** One redis-server for a test file, started on first use. */
export class BatchEnv {
  private server: RedisServer | undefined;

  /** A store with history on this file's server, closed when test `t` ends (also when an assertion failed). */
  async open(t: TestContext): Promise<{ store: RedisStore; url: string }> {
    this.server ??= await RedisServer.start();
    const store = new RedisStore({ url: this.server.url, prefix: `b${randomUUID().slice(0, 8)}`, history: true });
    t.after(() => store.close());
    await store.connect();
    return { store, url: this.server.url };
  }

  async stop(): Promise<void> {
    await this.server?.stop();
  }
}

/** A plain client, disconnected when test `t` ends. */
export function client(t: TestContext, url: string): Redis {
  const redis = new Redis(url);
  t.after(() => redis.disconnect());
  return redis;
}

/**
 * Counts the FCALLs of each function while `body` runs (MONITOR on a second connection), up to a marker
 * command sent after it; other commands sent by clients (not by scripts) count as `cmd:<name>`. ioredis `monitor()` opens a connection of its own beside the client it is called on:
 * both are closed when `t` ends.
 */
export async function fcalls(t: TestContext, url: string, body: () => Promise<void>): Promise<Map<string, number>> {
  const plain = client(t, url);
  const monitor = await plain.monitor();
  t.after(() => monitor.disconnect());
  const seen = new Map<string, number>();
  const marker = `end-${randomUUID()}`;
  const ended = new Promise<void>((resolve) => {
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      const name = args[0]?.toLowerCase();
      if (name === 'echo' && args[1] === marker) resolve();
      if (source === 'lua') return;
      const what = name === 'fcall' ? String(args[1]).replace(`${storeLibrary().name}_`, '') : `cmd:${name}`;
      seen.set(what, (seen.get(what) ?? 0) + 1);
    });
  });
  await body();
  await client(t, url).echo(marker);
  await ended;
  return seen;
}
