// A per-instance cache of what every engine request reads about a client (its metadata with the
// opened secret, its allowances), valid only while the registry is unchanged:
// - every change to clients or allowances bumps a counter in PostgreSQL in the same transaction
//   (version_stamps), and, with Redis, then publishes a fresh random token there;
// - each read first fetches the current token (Redis GET, or the PostgreSQL counter without
//   Redis) and uses a cached entry only if it was loaded under that same token.
// The token is read before the data is loaded, and a change is published only after it commits,
// so an entry can never be tagged newer than what it holds: disabling or editing a client takes
// effect on every instance as soon as the change returns. Random tokens (not the counter) in
// Redis mean a late publish can never bring back a token that cached entries still carry.
// With a live change feed (Redis pub/sub, store/change-feed.ts) no token is read at all: the
// change is also published there, and each instance drops its entries on the message (within
// Redis's delivery time, well under a millisecond). While the feed is down, reads fall back to
// the token, and the feed's (re)subscription drops everything cached.
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import type { ChangeFeed } from '../store/index.ts';
import { bumpStamp, readStamp } from './client-stamp-repo.ts';

/** Where instances share the token (the KV store over Redis); absent: read PostgreSQL's counter. */
export type StampMirror = {
  get: (key: string) => Promise<string | null>;
  set: (key: string, value: string, ttlSeconds: number) => Promise<void>;
  setIfAbsent: (key: string, value: string, ttlSeconds: number) => Promise<boolean>;
};

const STAMP = 'clients';
const MIRROR_KEY = 'stamp:clients';
const MIRROR_TTL_SECONDS = 30 * 86400;
const MAX_ENTRIES = 10_000;
/** The tag of entries loaded while the feed was live (never a token: tokens are base64url). */
const LIVE = '\u0000live';
const TOPIC = 'clients';

export const createClientCache = ({
  knex,
  mirror,
  feed,
  maxAgeMs = 60_000,
  now = Date.now,
}: {
  knex: Knex;
  mirror?: StampMirror | undefined;
  feed?: ChangeFeed | undefined;
  maxAgeMs?: number;
  now?: () => number;
}) => {
  const entries = new Map<
    string,
    { token: string; generation: number; at: number; value: unknown }
  >();
  // Bumped by every change seen here: a load that overlaps one is returned but not kept.
  let generation = 0;
  const invalidate = () => {
    generation += 1;
    entries.clear();
  };
  feed?.on(TOPIC, invalidate);
  const token = async (): Promise<string> => {
    if (!mirror) return readStamp(knex, STAMP);
    const shared = await mirror.get(MIRROR_KEY);
    if (shared !== null) return shared;
    // First use, or the key was evicted: any fresh token invalidates what was cached before.
    await mirror.setIfAbsent(MIRROR_KEY, randomBytes(12).toString('base64url'), MIRROR_TTL_SECONDS);
    return (await mirror.get(MIRROR_KEY)) ?? '';
  };
  // Requests that ask in the same tick share one read, sent once the tick's callers have all
  // asked (process.nextTick): each caller still gets the token as it was after its own call, so
  // a change that returned before a request began is seen by it. Under load this saves a Redis
  // command (or, embedded, a query) per request; nothing outlives the read.
  let pending: Promise<string> | undefined;
  const currentToken = (): Promise<string> => {
    pending ??= new Promise<string>((resolve, reject) => {
      process.nextTick(() => {
        pending = undefined;
        token().then(resolve, reject);
      });
    });
    return pending;
  };
  return {
    /** The cached value of `kind` for `id`, loaded with `load` when the registry changed since. */
    async get<T>(kind: string, id: string, load: () => Promise<T>): Promise<T> {
      const current = feed?.live() ? LIVE : await currentToken();
      const started = generation;
      const key = `${kind}\u0000${id}`;
      const hit = entries.get(key);
      if (hit && hit.token === current && hit.generation === started && now() - hit.at < maxAgeMs)
        return hit.value as T;
      const value = await load();
      if (generation !== started) return value;
      if (entries.size >= MAX_ENTRIES) entries.clear();
      entries.set(key, { token: current, generation: started, at: now(), value });
      return value;
    },
    /** Inside every transaction that changes clients or allowances. */
    changed: (trx: Knex.Transaction) => bumpStamp(trx, STAMP),
    /** After that transaction committed: every instance's entries become stale. */
    async publish(): Promise<void> {
      invalidate();
      if (!mirror && !feed) return;
      // The new token first, then the message: an instance that hears it reads no older token.
      const send = async () => {
        await mirror?.set(MIRROR_KEY, randomBytes(12).toString('base64url'), MIRROR_TTL_SECONDS);
        await feed?.publish(TOPIC);
      };
      // The change has committed: never fail its caller because Redis is briefly away. While it
      // is, no instance can read a token (its requests answer 503) and every feed is down (its
      // return drops every cache); keep trying in the background so the token is there then.
      const attempt = (tries: number): void => {
        send().catch(() => {
          if (tries < 300) setTimeout(() => attempt(tries + 1), 1000).unref();
        });
      };
      try {
        await send();
      } catch {
        attempt(1);
      }
    },
  };
};

export type ClientCache = ReturnType<typeof createClientCache>;
