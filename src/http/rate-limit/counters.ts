// Where the rate limits' counters live: in Redis when One-ID has one (every instance sees the
// same counts), always in process memory too. Every request counts in both; what Redis answers
// is kept in memory when it is higher (the other instances' requests). When Redis is down or
// slower than the timeout, the memory answers: this instance's counts and the last it heard,
// never a fresh allowance.
//
// A counter Redis has already answered for in its window may count ahead of Redis (`count`):
// the memory answers at once and the increment reaches Redis in the next write-behind (riding in
// the write of the next script this instance sends, else after a few milliseconds), with every
// other increment counted ahead since, in one script. Each instance then learns the others'
// counts at most a write-behind late; near its allowance a request waits for Redis again.
import { rideWithNextScript, type RedisClient } from '../../store/index.ts';
import { runCounters, type ScriptOp } from './counter-script.ts';
import { createMemoryCounters, type Count, type CounterOp } from './memory-counters.ts';

type Pending = ScriptOp & { local: Count; resolve: (count: Count) => void };

// How long increments counted ahead wait to be sent together.
const WRITE_BEHIND_MS = 5;
const NONE: Count = { value: 0, msLeft: 0 };

export const createCounters = ({
  redis,
  timeoutMs,
  now,
}: {
  redis?: RedisClient | undefined;
  /** After this the memory answers (a hanging Redis must not hold every request). */
  timeoutMs: number;
  now?: () => number;
}) => {
  const memory = createMemoryCounters(now);

  /** Sends `ops` in one script (one per counter on a Cluster, whose slots differ) and answers each. */
  const send = (ops: Pending[]) => {
    if (redis?.isCluster && ops.length > 1) {
      for (const op of ops) send([op]);
      return;
    }
    void runCounters(redis!, ops, timeoutMs).then((shared) => {
      ops.forEach(({ key, op, local, resolve }, i) => {
        const count = shared?.[i];
        if (!count) return resolve(local);
        if (op === 'incr' || op === 'read') memory.adopt(key, count);
        resolve(count);
      });
    });
  };
  // The counters touched in one turn of the event loop (a token request's two, a passkey
  // check's with its lockout): sent together once the turn's synchronous code and promise jobs
  // have asked, still before ioredis writes the turn's commands (auto-pipelining waits for
  // setImmediate), so they go in the same write.
  let turn: Pending[] = [];
  const flush = () => {
    const ops = turn;
    turn = [];
    send(ops);
  };
  // Increments counted ahead, per counter, until the next write-behind; and those Redis has not
  // answered for yet (waiting here or sent).
  const behind = new Map<string, { seconds: number; points: number }>();
  const unconfirmed = new Map<string, number>();
  const confirm = (key: string, points: number) => {
    const left = (unconfirmed.get(key) ?? 0) - points;
    if (left > 0) unconfirmed.set(key, left);
    else unconfirmed.delete(key);
  };
  const writeBehind = () => {
    const ops: Pending[] = [];
    for (const [key, { seconds, points }] of behind)
      ops.push({
        key,
        op: 'incr',
        seconds,
        points,
        local: NONE,
        resolve: () => confirm(key, points),
      });
    behind.clear();
    if (ops.length) send(ops);
  };

  /**
   * Applies `op` to the counter `key` (its full Redis key) and answers its value after; `points`
   * is what an `incr` adds in Redis (more than one with increments counted ahead).
   */
  const apply = (key: string, op: CounterOp, seconds: number, points = 1): Promise<Count> => {
    const local = memory.apply(key, op, seconds);
    if (!redis) return Promise.resolve(local);
    return new Promise<Count>((resolve) => {
      if (!turn.length) queueMicrotask(flush);
      turn.push({ key, op, seconds, points, local, resolve });
    });
  };

  return {
    apply,
    /**
     * Counts one on `key` (`incr` over `seconds`). Once Redis has answered for the counter in its
     * window, the memory answers at once and Redis hears of it in the next write-behind, while
     * fewer than `slack` increments wait for Redis's answer and the count stays below `exactFrom`;
     * otherwise it waits for Redis, as `apply` does. Every instance thus counts at most `slack`
     * requests per counter that the others have not yet seen.
     */
    count(key: string, seconds: number, exactFrom: number, slack: number): Promise<Count> {
      const ahead =
        redis?.status === 'ready' &&
        (unconfirmed.get(key) ?? 0) < slack &&
        memory.heard(key) &&
        memory.apply(key, 'read', 0).value + 1 < exactFrom;
      if (!ahead) {
        // Redis decides, on a count that includes what this instance counted ahead.
        const carried = behind.get(key)?.points ?? 0;
        behind.delete(key);
        const counted = apply(key, 'incr', seconds, 1 + carried);
        if (carried) void counted.then(() => confirm(key, carried));
        return counted;
      }
      unconfirmed.set(key, (unconfirmed.get(key) ?? 0) + 1);
      const local = memory.apply(key, 'incr', seconds);
      const pending = behind.get(key);
      if (pending) pending.points += 1;
      else {
        if (!behind.size) {
          // Sent with the next script on this client (usually this request's own next read or
          // write), or after a few milliseconds, whichever comes first.
          rideWithNextScript(redis, writeBehind);
          setTimeout(writeBehind, WRITE_BEHIND_MS).unref();
        }
        behind.set(key, { seconds, points: 1 });
      }
      return Promise.resolve(local);
    },
  };
};

export type Counters = ReturnType<typeof createCounters>;
