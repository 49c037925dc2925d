import type { Knex } from 'knex';
import { describe, expect, it } from 'vitest';
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
});
