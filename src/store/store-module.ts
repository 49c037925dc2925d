// One-ID's stores, opened in order: secrets, the database (migrated), Redis when configured,
// the short-lived key-value store and the change feed; and their health checks and closing.
// The server and the CLI both open them here, so both lay out and hash their keys the same way.
import type { Logger } from 'pino';
import type { Config } from '../config/index.ts';
import { createKeyedHash, createSecretBox } from '../shared/index.ts';
import { createDatabaseChangeFeed, createRedisChangeFeed } from './change-feed.ts';
import { openDatabase } from './database.ts';
import { resolveSecrets } from './dev-secrets.ts';
import { connectRedis, createMemoryKv, createRedisKv, withHashedKeys } from './kv.ts';
import { migrateLatest } from './migrate.ts';

export type StoreOptions = {
  /** Connections in the database pool (default 10). */
  poolMax?: number;
  /** Wait longer for database connections: a one-off command (the CLI), not a server. */
  patient?: boolean;
  /**
   * false: the change feed only publishes, never live (the CLI, a one-off command: its caches read
   * through, and it holds no subscriber connection nor the embedded database's listener).
   */
  subscribe?: boolean;
};

/** Closes what it opened when the migrations fail, so a failed start leaves no pool behind. */
export const openStores = async (
  config: Config,
  log: Pick<Logger, 'warn' | 'info'>,
  { poolMax, patient, subscribe = true }: StoreOptions = {},
) => {
  const { secrets, generated } = resolveSecrets(config);
  if (generated.length)
    log.warn(
      { generated, dataDir: config.dataDir },
      'development secrets generated and kept under DATA_DIR; set them in the environment for production',
    );
  const db = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    poolMax,
    patient,
  });
  const redis = config.redis ? connectRedis(config.redis, log) : undefined;
  try {
    await migrateLatest(db.knex);
  } catch (error) {
    await db.close();
    redis?.disconnect();
    throw error;
  }
  // Every Redis key starts with REDIS_KEY_PREFIX; bearer values are stored under keyed hashes.
  const hashId = createKeyedHash(secrets.pairwiseSalt, 'stored-ids');
  const kv = withHashedKeys(
    redis ? createRedisKv(redis, `${config.redisKeyPrefix}kv:`) : createMemoryKv(),
    hashId,
  );
  // Read-mostly data cached per instance is dropped on every instance when it changes (Redis
  // pub/sub; on the embedded default, the database's notifications, heard by the process that
  // owns the PGlite).
  const feed = redis
    ? createRedisChangeFeed(redis, config.issuer, { subscribe })
    : db.kind === 'embedded'
      ? createDatabaseChangeFeed(db.knex, subscribe ? db : undefined)
      : undefined;
  const checks: Record<string, () => Promise<void>> = { database: db.ping };
  if (redis) checks.redis = kv.ping;
  return {
    secrets,
    /** Seals the secrets kept at rest in the database (KEY_ENCRYPTION_KEYS; reseal.ts rotates). */
    secretBox: createSecretBox(secrets.keyEncryptionKeys),
    /** The database handle without audit keys: the audit module keys it (withAuditKeys). */
    knex: db.knex,
    redis,
    kv,
    /** `kv` when every instance shares it (Redis), else undefined. */
    sharedKv: redis ? kv : undefined,
    hashId,
    feed,
    /** What /readyz checks. */
    checks,
    /** Last step of a graceful stop, once nothing uses the stores any more. */
    async close() {
      await kv.close();
      feed?.close();
      if (redis) await redis.quit().catch(() => redis.disconnect());
      await db.close();
    },
  };
};

export type Stores = Awaited<ReturnType<typeof openStores>>;
