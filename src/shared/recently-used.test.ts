import { describe, expect, it } from 'vitest';
import { createRecentlyUsed } from './recently-used.ts';

describe('createRecentlyUsed', () => {
  it('keeps the entries used most recently, dropping the oldest one at a time', () => {
    const memo = createRecentlyUsed<string, number>(2);
    memo.set('a', 1);
    memo.set('b', 2);
    expect(memo.get('a')).toBe(1); // a is now the most recent
    memo.set('c', 3); // b goes, not a; nor everything at once
    expect(memo.get('b')).toBeUndefined();
    expect(memo.get('a')).toBe(1);
    expect(memo.get('c')).toBe(3);
    expect(memo.size).toBe(2);
    memo.set('c', 4); // replacing a key drops nothing else
    expect(memo.get('a')).toBe(1);
    expect(memo.get('c')).toBe(4);
    expect(memo.size).toBe(2);
  });
});
