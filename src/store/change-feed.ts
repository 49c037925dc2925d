// Invalidation of per-instance caches of read-mostly data (the client registry, upstream
// providers): a change is published on a Redis channel after it commits, and every subscribed
// instance drops what it cached, so no request re-checks a version. While an instance is not
// subscribed (no Redis, or its subscription is down), `live()` is false and caches read through
// or fall back to a version read; on every (re)subscription everything cached is dropped, since
// changes may have been missed.
import type { Knex } from 'knex';
import { CHANGES_CHANNEL, type Database } from './database.ts';
import type { RedisClient } from './kv.ts';

export type ChangeFeed = {
  /** True while a change published anywhere reaches this instance's listeners. */
  live: () => boolean;
  /** Calls `listener` on each change of `topic`, and on each (re)subscription. */
  on: (topic: string, listener: () => void) => void;
  /** After the change committed: every instance's listeners of `topic` run. */
  publish: (topic: string) => Promise<void>;
  close: () => void;
};

/** The channel of one deployment (instances sharing an issuer share their caches' fate). */
const channelOf = (namespace: string) => `changes:${namespace}`;

/**
 * A feed over Redis pub/sub. `subscribe: false` (the CLI) only publishes. The subscriber is a
 * second connection: a subscribed connection can run no other command.
 */
export const createRedisChangeFeed = (
  redis: RedisClient,
  namespace: string,
  { subscribe = true }: { subscribe?: boolean } = {},
): ChangeFeed => {
  const channel = channelOf(namespace);
  const listeners = new Map<string, Set<() => void>>();
  const everyone = () => {
    for (const set of listeners.values()) for (const listener of set) listener();
  };
  let subscribed = false;
  let closed = false;
  const subscriber = subscribe ? redis.duplicate() : undefined;
  if (subscriber) {
    // The main connection logs Redis outages; this one only follows them.
    subscriber.on('error', () => undefined);
    subscriber.on('close', () => {
      subscribed = false;
    });
    // Live only once Redis has confirmed the subscription: what is published later is delivered.
    const start = () => {
      if (closed) return;
      subscriber.subscribe(channel).then(
        () => {
          subscribed = true;
          everyone();
        },
        () => undefined,
      );
    };
    subscriber.on('ready', start);
    subscriber.on('message', (from: string, topic: string) => {
      if (from !== channel) return;
      for (const listener of listeners.get(topic) ?? []) listener();
    });
  }
  return {
    live: () => subscribed,
    on: (topic, listener) => {
      const set = listeners.get(topic) ?? new Set();
      set.add(listener);
      listeners.set(topic, set);
    },
    publish: async (topic) => {
      await redis.publish(channel, topic);
    },
    close: () => {
      closed = true;
      subscribed = false;
      subscriber?.disconnect();
    },
  };
};

/**
 * A feed over the embedded database (no Redis): a change is published with `pg_notify` (the
 * server or a CLI, over the embedded server's socket), and the process that owns the PGlite hears
 * it as the notifying statement completes, before that statement returns to its caller: a change
 * made by the CLI has reached the server's caches when the CLI's command returns. Live only in the
 * owner (`database.onChange`); a process that joined the embedded server only publishes.
 */
export const createDatabaseChangeFeed = (
  knex: Knex,
  database?: Pick<Database, 'onChange'>,
): ChangeFeed => {
  const listeners = new Map<string, Set<() => void>>();
  const live = Boolean(database?.onChange);
  database?.onChange?.((topic) => {
    for (const listener of listeners.get(topic) ?? []) listener();
  });
  return {
    live: () => live,
    on: (topic, listener) => {
      const set = listeners.get(topic) ?? new Set();
      set.add(listener);
      listeners.set(topic, set);
    },
    publish: async (topic) => {
      await knex.raw('select pg_notify(?, ?)', [CHANGES_CHANNEL, topic]);
    },
    close: () => listeners.clear(),
  };
};

/**
 * `load`'s value kept in process while the feed is live, until `topic` changes (or maxAgeMs, a
 * bound should a message be lost with a dying connection); read through otherwise. A load that
 * overlaps a change is returned but not kept.
 */
export const cachedByFeed = <T>(
  feed: ChangeFeed | undefined,
  topic: string,
  load: () => Promise<T>,
  maxAgeMs = 60_000,
) => {
  let generation = 0;
  let kept: { value: T; at: number; generation: number } | undefined;
  feed?.on(topic, () => {
    generation += 1;
    kept = undefined;
  });
  return async (): Promise<T> => {
    if (!feed?.live()) return load();
    if (kept && kept.generation === generation && Date.now() - kept.at < maxAgeMs)
      return kept.value;
    const started = generation;
    const value = await load();
    if (started === generation) kept = { value, at: Date.now(), generation };
    return value;
  };
};
