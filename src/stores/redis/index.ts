/**
 * The Redis store's public surface (loaded lazily by src/runtime/connect.ts for `redis://` store URLs).
 */
export { DEFAULT_REDIS_RETENTION_MS, RedisStore, type RedisStoreOptions } from './redis-store.js';
