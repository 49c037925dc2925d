// Lua scripts sent by their SHA-1 (EVALSHA), and sent whole only when Redis does not have them
// yet (NOSCRIPT: first use, a restarted server, or another node of a cluster).
import { createHash } from 'node:crypto';
import type { RedisClient } from './kv.ts';

export type RedisScript = { lua: string; sha: string };

export const redisScript = (lua: string): RedisScript => ({
  lua,
  sha: createHash('sha1').update(lua).digest('hex'),
});

// Work waiting to ride in the next script's write on a client (the rate limits' counts ahead):
// sent just before that script, in the same turn, so ioredis's auto-pipelining puts both in one
// socket write instead of one of their own.
const riders = new WeakMap<RedisClient, () => void>();

/** Has `send` called just before the next script on `redis` (once; the latest replaces). */
export const rideWithNextScript = (redis: RedisClient, send: () => void): void => {
  riders.set(redis, send);
};

/** Runs `script` with `keys` and `args`: EVALSHA, then EVAL on NOSCRIPT. */
export const runScript = async (
  redis: RedisClient,
  { lua, sha }: RedisScript,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<unknown> => {
  const rider = riders.get(redis);
  if (rider) {
    riders.delete(redis);
    rider();
  }
  try {
    return await redis.evalsha(sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
    return redis.eval(lua, keys.length, ...keys, ...args);
  }
};
