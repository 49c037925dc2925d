import type { Knex } from 'knex';
import { describe, expect, it } from 'vitest';
import type { ChangeFeed } from '../store/index.ts';
import { createClientCache, type StampMirror } from './client-cache.ts';

// The Redis mirror as another instance sees it: a shared map, with the reads counted.
const sharedMirror = () => {
  const values = new Map<string, string>();
  let reads = 0;
  const mirror: StampMirror = {
    get: async (key) => {
      reads += 1;
      return values.get(key) ?? null;
    },
    set: async (key, value) => {
      values.set(key, value);
    },
    setIfAbsent: async (key, value) => {
      if (values.has(key)) return false;
      values.set(key, value);
      return true;
    },
  };
  return { mirror, reads: () => reads };
};

// With a mirror the cache never queries the database.
const knex = {} as Knex;

describe('client cache', () => {
  it('shares one token read between the requests of one tick, and caches the value', async () => {
    const { mirror, reads } = sharedMirror();
    const cache = createClientCache({ knex, mirror });
    await cache.get('engine', 'warm', async () => 'x');
    const before = reads();
    let loads = 0;
    const load = async () => `metadata ${++loads}`;
    const values = await Promise.all([
      cache.get('engine', 'agency-tax', load),
      cache.get('engine', 'agency-tax', load),
      cache.get('engine', 'agency-tax', load),
    ]);
    expect(reads() - before).toBe(1);
    expect(values).toEqual(['metadata 1', 'metadata 2', 'metadata 3']);
    // Later requests read the token again (one read each), and hit the cache.
    expect(await cache.get('engine', 'agency-tax', load)).toBe('metadata 3');
    expect(await cache.get('engine', 'agency-tax', load)).toBe('metadata 3');
    expect(loads).toBe(3);
    expect(reads() - before).toBe(3);
  });

  it('sees a change published by another instance at the next read, even in flight', async () => {
    const { mirror } = sharedMirror();
    const here = createClientCache({ knex, mirror });
    const there = createClientCache({ knex, mirror });
    let version = 1;
    const load = async () => `enabled v${version}`;
    expect(await here.get('engine', 'agency-tax', load)).toBe('enabled v1');
    version = 2;
    // Asked in the same tick as the change is published, but after it: the shared read is sent
    // only once every caller of the tick has asked, so it sees the new token.
    const published = there.publish();
    const read = here.get('engine', 'agency-tax', load);
    await published;
    expect(await read).toBe('enabled v2');
    version = 3;
    await there.publish();
    expect(await here.get('engine', 'agency-tax', load)).toBe('enabled v3');
  });

  it('reads no token while the change feed is live; a change heard drops entries, even mid-load', async () => {
    const { mirror, reads } = sharedMirror();
    const listeners: (() => void)[] = [];
    let live = true;
    const feed: ChangeFeed = {
      live: () => live,
      on: (_topic, listener) => void listeners.push(listener),
      publish: async () => listeners.forEach((l) => l()),
      close: () => undefined,
    };
    const cache = createClientCache({ knex, mirror, feed });
    let version = 1;
    const load = async () => `v${version}`;
    expect(await cache.get('engine', 'a', load)).toBe('v1');
    version = 2;
    expect(await cache.get('engine', 'a', load)).toBe('v1');
    expect(reads()).toBe(0);
    // Another instance's change arrives as a message.
    listeners.forEach((l) => l());
    expect(await cache.get('engine', 'a', load)).toBe('v2');
    // A load that overlaps a change is returned but not kept.
    let release!: () => void;
    const slow = cache.get(
      'engine',
      'b',
      () => new Promise<string>((r) => (release = () => r('old'))),
    );
    await new Promise((r) => setImmediate(r));
    listeners.forEach((l) => l());
    release();
    expect(await slow).toBe('old');
    expect(await cache.get('engine', 'b', async () => 'new')).toBe('new');
    // The feed down: back to the shared token.
    live = false;
    expect(await cache.get('engine', 'b', async () => 'newer')).toBe('newer');
    expect(reads()).toBeGreaterThan(0);
  });
});
