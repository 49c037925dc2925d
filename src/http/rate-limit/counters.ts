// Where the rate limits' counters live: in Redis when One-ID has one (every instance sees the
// same counts), always in process memory too. Every request counts in both; what Redis answers
// is kept in memory when it is higher (the other instances' requests). When Redis is down or
// slower than the timeout, the memory answers: this instance's counts and the last it heard,
// never a fresh allowance.
import type { RedisClient } from '../../store/index.ts';
import { runCounters, type ScriptOp } from './counter-script.ts';
import { createMemoryCounters, type Count, type CounterOp } from './memory-counters.ts';

type Pending = ScriptOp & { local: Count; resolve: (count: Count) => void };

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

  return {
    /** Applies `op` to the counter `key` (its full Redis key) and answers its value after. */
    apply(key: string, op: CounterOp, seconds: number): Promise<Count> {
      const local = memory.apply(key, op, seconds);
      if (!redis) return Promise.resolve(local);
      return new Promise<Count>((resolve) => {
        if (!turn.length) queueMicrotask(flush);
        turn.push({ key, op, seconds, local, resolve });
      });
    },
  };
};

export type Counters = ReturnType<typeof createCounters>;
