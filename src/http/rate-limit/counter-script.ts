// The rate limits' counters in Redis without the library's layers (limiter.ts take()): its own
// increment script, for all the counters a turn of the event loop takes, in one EVALSHA.
import { createHash } from 'node:crypto';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { RedisClient } from '../../store/index.ts';

// rate-limiter-flexible's own increment (RateLimiterRedis's script), for each counter given:
// the same keys, values and expiry, so every instance shares the counters whichever way it took
// them. KEYS: the counters; ARGV[i]: KEYS[i]'s window in seconds. Returns {points, ms left} each.
const INCREMENT = `
local out = {}
for i = 1, #KEYS do
  redis.call('set', KEYS[i], 0, 'EX', ARGV[i], 'NX')
  local consumed = redis.call('incrby', KEYS[i], 1)
  local ttl = redis.call('pttl', KEYS[i])
  if ttl == -1 then
    redis.call('expire', KEYS[i], ARGV[i])
    ttl = 1000 * ARGV[i]
  end
  out[#out + 1] = consumed
  out[#out + 1] = ttl
end
return out
`;
const INCREMENT_SHA = createHash('sha1').update(INCREMENT).digest('hex');

/**
 * Increments `keys`; undefined when Redis is not ready, fails or takes longer than `timeoutMs`,
 * as with the library's timeout wrapper and rejectIfRedisNotReady (the caller's insurance answers).
 */
export const increment = (
  redis: RedisClient,
  keys: string[],
  windows: number[],
  timeoutMs: number,
) =>
  new Promise<unknown[] | undefined>((resolve) => {
    if (redis.status !== 'ready') return resolve(undefined);
    const timer = setTimeout(resolve, timeoutMs, undefined);
    const done = (reply: unknown) => {
      clearTimeout(timer);
      resolve(reply as unknown[] | undefined);
    };
    redis.evalsha(INCREMENT_SHA, keys.length, ...keys, ...windows).then(done, (error: unknown) => {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT'))
        return done(undefined);
      redis.eval(INCREMENT, keys.length, ...keys, ...windows).then(done, () => done(undefined));
    });
  });

/** The Redis limiter and its in-memory insurance inside the library's timeout wrapper (limiter.ts make). */
export type Insured = { limiter: RateLimiterAbstract; insuranceLimiter: RateLimiterAbstract };
/** A take() waiting for the script its turn's counters go in. */
export type Pending = Insured & {
  key: string;
  resolve: () => void;
  reject: (error: unknown) => void;
};
