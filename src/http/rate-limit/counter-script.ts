// The rate limits' counters in Redis: one script for all the counters a turn of the event loop
// touches, in one EVALSHA. Keys and values are rate-limiter-flexible's (RateLimiterRedis), which
// One-ID used before: instances of either version share every counter during a rolling upgrade.
import { redisScript, runScript, type RedisClient } from '../../store/index.ts';
import type { Count, CounterOp } from './memory-counters.ts';

// KEYS: the counters; ARGV[2i - 1]: what to do with KEYS[i] (memory-counters.ts CounterOp),
// ARGV[2i]: its seconds. `incr` is the library's increment script; `read` its read (get, pttl);
// `lock` its block() of a one-point limiter (value 2 for the seconds); `forget` its delete().
// Returns {value (false: none), ms left} for each.
const COUNTERS = redisScript(`
local out = {}
for i = 1, #KEYS do
  local key, op, seconds = KEYS[i], ARGV[2 * i - 1], ARGV[2 * i]
  local value
  if op == 'incr' then
    redis.call('set', key, 0, 'EX', seconds, 'NX')
    value = redis.call('incrby', key, 1)
  elseif op == 'lock' then
    redis.call('set', key, 2, 'EX', seconds)
    value = 2
  elseif op == 'forget' then
    redis.call('del', key)
    value = false
  else
    value = redis.call('get', key)
  end
  local ttl = redis.call('pttl', key)
  if op == 'incr' and ttl == -1 then
    redis.call('expire', key, seconds)
    ttl = 1000 * seconds
  end
  out[#out + 1] = value
  out[#out + 1] = ttl
end
return out
`);

/** One counter's part in a script: its Redis key, what to do, and the seconds that takes. */
export type ScriptOp = { key: string; op: CounterOp; seconds: number };

const counts = (reply: unknown): Count[] => {
  const flat = reply as (string | number | null)[];
  const out: Count[] = [];
  for (let i = 0; i < flat.length; i += 2)
    out.push({ value: Number(flat[i] ?? 0), msLeft: Math.max(0, Number(flat[i + 1])) });
  return out;
};

/**
 * Applies `ops` in one script; undefined when Redis is not ready, fails or takes longer than
 * `timeoutMs` (the caller answers from its own counters then).
 */
export const runCounters = (redis: RedisClient, ops: ScriptOp[], timeoutMs: number) =>
  new Promise<Count[] | undefined>((resolve) => {
    if (redis.status !== 'ready') return resolve(undefined);
    const timer = setTimeout(resolve, timeoutMs, undefined);
    const done = (reply: unknown) => {
      clearTimeout(timer);
      resolve(reply === undefined ? undefined : counts(reply));
    };
    // Each key's op and seconds, in the keys' order.
    const args: (string | number)[] = new Array<string>(ops.length * 2);
    ops.forEach(({ op, seconds }, i) => {
      args[2 * i] = op;
      args[2 * i + 1] = seconds;
    });
    runScript(
      redis,
      COUNTERS,
      ops.map((o) => o.key),
      args,
    ).then(done, () => done(undefined));
  });
