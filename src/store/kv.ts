// Short-lived shared values (WebAuthn challenges, single-use nonces, counters): Redis in
// production so every instance sees them, an in-process map in the embedded default.
import { Redis } from 'ioredis';

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

export const createRedisKv = (redis: Redis, prefix = 'kv:'): KvStore => ({
  set: async (key, value, ttl) => {
    await redis.set(prefix + key, value, 'EX', ttl);
  },
  setIfAbsent: async (key, value, ttl) => (await redis.set(prefix + key, value, 'EX', ttl, 'NX')) === 'OK',
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

export const connectRedis = (url: string): Redis =>
  new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 2, enableOfflineQueue: true });
