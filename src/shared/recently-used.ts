/**
 * A map that keeps the `max` entries used most recently: a hit moves to the end of the Map's
 * insertion order and, when full, the oldest goes first. For per-instance memos of values that
 * cannot go stale (a pairwise sub, "this sub is already indexed"), so a busy instance keeps its
 * active entries instead of starting afresh at the limit.
 */
export const createRecentlyUsed = <K, V>(max: number) => {
  const entries = new Map<K, V>();
  return {
    get(key: K): V | undefined {
      const value = entries.get(key);
      if (value !== undefined) {
        entries.delete(key);
        entries.set(key, value);
      }
      return value;
    },
    set(key: K, value: V): void {
      if (!entries.delete(key) && entries.size >= max) entries.delete(entries.keys().next().value!);
      entries.set(key, value);
    },
    get size() {
      return entries.size;
    },
  };
};
