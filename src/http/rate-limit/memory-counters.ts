// The rate limits' counters in process memory: the only ones without Redis, and with Redis a
// copy kept on every request, so that when Redis fails or is too slow the instance answers from
// what it has counted and what Redis last told it, never from zero.

/** A counter's value (0: none) and the milliseconds before it expires (0: none). */
export type Count = { value: number; msLeft: number };

/**
 * What a request does to a counter: `incr` counts one in a window of `seconds` (from the first),
 * `read` reads it, `lock` sets it to 2 for `seconds` (a lockout), `forget` deletes it.
 */
export type CounterOp = 'incr' | 'read' | 'lock' | 'forget';

type Entry = { value: number; expiresAt: number };

// Expired counters are dropped as they are met, and all of them at most this often.
const SWEEP_MS = 60_000;

export const createMemoryCounters = (now: () => number = Date.now) => {
  const entries = new Map<string, Entry>();
  let swept = now();
  const sweep = (at: number) => {
    if (at - swept < SWEEP_MS) return;
    swept = at;
    for (const [key, entry] of entries) if (entry.expiresAt <= at) entries.delete(key);
  };
  const live = (key: string, at: number) => {
    const entry = entries.get(key);
    if (entry && entry.expiresAt <= at) {
      entries.delete(key);
      return undefined;
    }
    return entry;
  };
  const count = (entry: Entry | undefined, at: number): Count =>
    entry ? { value: entry.value, msLeft: entry.expiresAt - at } : { value: 0, msLeft: 0 };

  return {
    /** Applies `op` to `key`'s counter and answers its value after. */
    apply(key: string, op: CounterOp, seconds: number): Count {
      const at = now();
      sweep(at);
      let entry = live(key, at);
      if (op === 'incr') {
        if (!entry) entries.set(key, (entry = { value: 0, expiresAt: at + seconds * 1000 }));
        entry.value += 1;
      } else if (op === 'lock') {
        entries.set(key, (entry = { value: 2, expiresAt: at + seconds * 1000 }));
      } else if (op === 'forget') {
        entries.delete(key);
        entry = undefined;
      }
      return count(entry, at);
    },
    /**
     * What Redis answered for `key` (every instance's requests): kept when it is more than this
     * instance has, so a fallback continues from the higher of the two.
     */
    adopt(key: string, { value, msLeft }: Count): void {
      if (value <= 0 || msLeft <= 0) return;
      const at = now();
      const entry = live(key, at);
      if (!entry || entry.value < value) entries.set(key, { value, expiresAt: at + msLeft });
    },
    /** How many counters are held (expired ones not yet swept included). */
    get size() {
      return entries.size;
    },
  };
};

export type MemoryCounters = ReturnType<typeof createMemoryCounters>;
