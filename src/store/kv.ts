// Short-lived shared values (WebAuthn challenges, single-use nonces, counters): Redis in
// production so every instance sees them, an in-process map in the embedded default.
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { RedisSettings } from '../config/index.ts';

/** A standalone or Sentinel-managed connection, or a Redis Cluster: the same commands serve all three. */
export type RedisClient = Redis | Cluster;

export type KvStore = {
  /** Stores value for ttlSeconds. */
  set: (key: string, value: string, ttlSeconds: number) => Promise<void>;
  /** Stores value only when key is absent; true when stored. */
  setIfAbsent: (key: string, value: string, ttlSeconds: number) => Promise<boolean>;
  get: (key: string) => Promise<string | null>;
  /** Reads and deletes atomically: what single-use values need. */
  take: (key: string) => Promise<string | null>;
  del: (key: string) => Promise<void>;
  ping: () => Promise<void>;
  close: () => Promise<void>;
};

// Single-key commands only, so the same code runs on Redis Cluster.
export const createRedisKv = (redis: RedisClient, prefix = 'kv:'): KvStore => ({
  set: async (key, value, ttl) => {
    await redis.set(prefix + key, value, 'EX', ttl);
  },
  setIfAbsent: async (key, value, ttl) =>
    (await redis.set(prefix + key, value, 'EX', ttl, 'NX')) === 'OK',
  get: (key) => redis.get(prefix + key),
  take: (key) => redis.getdel(prefix + key),
  del: async (key) => {
    await redis.del(prefix + key);
  },
  ping: async () => {
    await redis.ping();
  },
  close: async () => {},
});

/**
 * Stores under a keyed hash of each key (src/shared/keyed-hash.ts): callers' keys hold bearer
 * values (TLS login tickets, sign-in states, interaction ids) that a dump must not reveal.
 */
export const withHashedKeys = (kv: KvStore, hash: (key: string) => string): KvStore => ({
  ...kv,
  set: (key, value, ttl) => kv.set(hash(key), value, ttl),
  setIfAbsent: (key, value, ttl) => kv.setIfAbsent(hash(key), value, ttl),
  get: (key) => kv.get(hash(key)),
  take: (key) => kv.take(hash(key)),
  del: (key) => kv.del(hash(key)),
});

export const createMemoryKv = (): KvStore => {
  const values = new Map<string, { value: string; expiresAt: number }>();
  const live = (key: string) => {
    const entry = values.get(key);
    if (entry && entry.expiresAt <= Date.now()) {
      values.delete(key);
      return undefined;
    }
    return entry;
  };
  // Expired entries are dropped on read and by this sweep, so memory stays bounded.
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [key, entry] of values) if (entry.expiresAt <= now) values.delete(key);
  }, 60_000);
  sweep.unref();
  return {
    set: async (key, value, ttl) => {
      values.set(key, { value, expiresAt: Date.now() + ttl * 1000 });
    },
    setIfAbsent: async (key, value, ttl) => {
      if (live(key)) return false;
      values.set(key, { value, expiresAt: Date.now() + ttl * 1000 });
      return true;
    },
    get: async (key) => live(key)?.value ?? null,
    take: async (key) => {
      const entry = live(key);
      values.delete(key);
      return entry?.value ?? null;
    },
    del: async (key) => {
      values.delete(key);
    },
    ping: async () => {},
    close: async () => {
      clearInterval(sweep);
    },
  };
};

// While Redis is down, commands fail fast instead of hanging: a queued command waits for one
// reconnection attempt (at most 1 s apart) and no command waits longer than commandTimeout
// (a Redis that hangs rather than refuses; with auto-pipelining a command may first wait for the
// batch in flight, so at most twice that). Requests then get 503 and /readyz fails; ioredis
// keeps reconnecting in the background, so service resumes within a second of Redis's return.
// The offline queue is on only until the first connection is ready (start-up); after that a
// command issued while the connection is down fails at once (see connectRedis).
const COMMON: RedisOptions = {
  lazyConnect: false,
  maxRetriesPerRequest: 1,
  enableOfflineQueue: true,
  connectTimeout: 5000,
  // Redis answers in well under a millisecond; a second means it is not answering.
  commandTimeout: 1000,
  retryStrategy: (times) => Math.min(times * 100, 1000),
  // Commands issued in the same tick share one socket write: under load, one syscall instead of
  // one per command (each token request makes several). See docs/performance.md.
  enableAutoPipelining: true,
};

/**
 * Connects to Redis as configured: a URL, Sentinel (ioredis asks the sentinels for the current
 * master and follows failovers) or Cluster. A lost connection is logged once (ioredis reports
 * every failed reconnection), and so is its recovery.
 */
export const connectRedis = (
  settings: RedisSettings | string,
  log?: Pick<Logger, 'warn' | 'info'>,
): RedisClient => {
  const s: RedisSettings =
    typeof settings === 'string' ? { mode: 'standalone', url: settings } : settings;
  let client: RedisClient;
  if (s.mode === 'standalone') {
    client = new Redis(s.url, COMMON);
  } else {
    const auth: RedisOptions = {
      ...(s.username && { username: s.username }),
      ...(s.password && { password: s.password }),
      ...(s.tls && { tls: {} }),
    };
    client =
      s.mode === 'sentinel'
        ? new Redis({
            ...COMMON,
            ...auth,
            sentinels: [...s.sentinels],
            name: s.name,
            ...(s.sentinelPassword && { sentinelPassword: s.sentinelPassword }),
            enableTLSForSentinelMode: s.tls,
          })
        : new Cluster([...s.nodes], {
            redisOptions: { ...COMMON, ...auth },
            enableOfflineQueue: true,
            enableAutoPipelining: true,
          });
  }
  let down = false;
  client.on('error', (error: Error) => {
    if (!down)
      log?.warn(
        { err: { type: error.name, message: error.message } },
        'redis connection lost; reconnecting',
      );
    down = true;
  });
  client.on('ready', () => {
    if (down) log?.info('redis connection restored');
    down = false;
    // Fail fast from now on: while reconnecting, commands are refused at once (503) instead of
    // queueing behind reconnection attempts. (ioredis reads this option at every command.)
    if (client instanceof Redis) client.options.enableOfflineQueue = false;
  });
  return client;
};
