export { openDatabase } from './database.ts';
export type { Database } from './database.ts';
export { migrateLatest } from './migrate.ts';
export { createRedisKv, createMemoryKv, connectRedis } from './kv.ts';
export type { KvStore, RedisClient } from './kv.ts';
export { resolveSecrets } from './dev-secrets.ts';
export type { Secrets } from './dev-secrets.ts';
