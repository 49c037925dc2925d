import { describe, expect, it, vi } from 'vitest';
import { createPairwiseSubs, pairwiseSub } from './pairwise.ts';

describe('createPairwiseSubs', () => {
  it('gives pairwiseSub, deriving a sub again only once it is not among the last used', () => {
    const derive = vi.fn(pairwiseSub);
    const subs = createPairwiseSubs('salt', { max: 2, derive });
    const derived = (accountId: string) => {
      derive.mockClear();
      expect(subs('a.example', accountId)).toBe(pairwiseSub('salt', 'a.example', accountId));
      return derive.mock.calls.length;
    };
    expect(derived('c1')).toBe(1);
    expect(derived('c2')).toBe(1);
    // c1 used again is the most recent: c3 pushes c2 out, not c1.
    expect(derived('c1')).toBe(0);
    expect(derived('c3')).toBe(1);
    expect(derived('c1')).toBe(0);
    expect(derived('c3')).toBe(0);
    expect(derived('c2')).toBe(1);
  });
});
