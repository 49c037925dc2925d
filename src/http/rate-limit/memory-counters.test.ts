// The in-process counters: fixed windows from the first count, a lock and its expiry, and what
// Redis answered kept only when it is more than this instance counted.
import { describe, expect, it } from 'vitest';
import { createMemoryCounters } from './memory-counters.ts';

const clock = () => {
  let at = 1_000_000;
  return { now: () => at, advance: (ms: number) => void (at += ms) };
};

describe('memory counters', () => {
  it('counts in a window from the first count, then starts again', () => {
    const { now, advance } = clock();
    const counters = createMemoryCounters(now);
    expect(counters.apply('k', 'incr', 60)).toEqual({ value: 1, msLeft: 60_000 });
    advance(59_000);
    expect(counters.apply('k', 'incr', 60)).toEqual({ value: 2, msLeft: 1000 });
    advance(1000);
    expect(counters.apply('k', 'incr', 60)).toEqual({ value: 1, msLeft: 60_000 });
  });

  it('locks for the seconds given, reads and forgets', () => {
    const { now, advance } = clock();
    const counters = createMemoryCounters(now);
    expect(counters.apply('lock', 'read', 0)).toEqual({ value: 0, msLeft: 0 });
    counters.apply('lock', 'lock', 5);
    advance(4000);
    expect(counters.apply('lock', 'read', 0)).toEqual({ value: 2, msLeft: 1000 });
    advance(1000);
    expect(counters.apply('lock', 'read', 0)).toEqual({ value: 0, msLeft: 0 });
    counters.apply('fail', 'incr', 3600);
    expect(counters.apply('fail', 'forget', 0)).toEqual({ value: 0, msLeft: 0 });
    expect(counters.apply('fail', 'incr', 3600).value).toBe(1);
  });

  it('keeps what Redis answered only when it is more, with its time left', () => {
    const { now } = clock();
    const counters = createMemoryCounters(now);
    counters.apply('k', 'incr', 60);
    counters.apply('k', 'incr', 60);
    counters.adopt('k', { value: 1, msLeft: 10_000 });
    expect(counters.apply('k', 'read', 0)).toEqual({ value: 2, msLeft: 60_000 });
    counters.adopt('k', { value: 7, msLeft: 10_000 });
    expect(counters.apply('k', 'incr', 60)).toEqual({ value: 8, msLeft: 10_000 });
    // Nothing to keep: no value, or no expiry (a lock without one is not a lock).
    counters.adopt('other', { value: 0, msLeft: 0 });
    counters.adopt('other', { value: 2, msLeft: 0 });
    expect(counters.apply('other', 'read', 0)).toEqual({ value: 0, msLeft: 0 });
  });

  it('drops expired counters it no longer meets, once a minute', () => {
    const { now, advance } = clock();
    const counters = createMemoryCounters(now);
    for (let i = 0; i < 100; i += 1) counters.apply(`k${i}`, 'incr', 1);
    expect(counters.size).toBe(100);
    advance(60_000);
    counters.apply('fresh', 'incr', 60);
    expect(counters.size).toBe(1);
  });
});
