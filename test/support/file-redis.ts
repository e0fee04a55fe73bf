/**
 * One private redis-server for a test file, started on first use, and the stores and clients its tests open on
 * it: all closed after the file's tests, before the server stops.
 *
 * @example
 * const redis = new FileRedis();
 * test('...', async () => {
 *   const { store, raw } = await redis.open('nr');
 * });
 */
import { randomUUID } from 'node:crypto';
import { after } from 'node:test';
import { Redis } from 'ioredis';
import { RedisStore, type RedisStoreOptions } from '../../src/stores/redis/redis-store.js';
import { RedisServer } from './redis-server.js';

/** A test file's redis-server and what was opened on it. */
export class FileRedis {
  private server: Promise<RedisServer> | undefined;
  private readonly closers: Array<() => unknown> = [];

  /** Registers the file's `after` hook that closes everything; make one at module level. */
  constructor() {
    after(() => this.close());
  }

  /** The server's URL (started on the first call). */
  async url(): Promise<string> {
    this.server ??= RedisServer.start();
    return (await this.server).url;
  }

  /** A connected store under a fresh prefix that starts with `tag`, and a plain client of the same server. */
  async open(tag: string, options: Partial<RedisStoreOptions> = {}): Promise<{ store: RedisStore; raw: Redis }> {
    const url = await this.url();
    const store = new RedisStore({ url, prefix: `${tag}${randomUUID().slice(0, 8)}`, ...options });
    await store.connect();
    const raw = new Redis(url);
    this.closers.push(() => store.close(), () => raw.disconnect());
    return { store, raw };
  }

  /** Closes `close` with the rest, after the file's tests. */
  closeLater(close: () => unknown): void {
    this.closers.push(close);
  }

  private async close(): Promise<void> {
    for (const close of this.closers) await close();
    if (this.server) await (await this.server).stop();
  }
}
