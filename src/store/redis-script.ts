// Lua scripts sent by their SHA-1 (EVALSHA), and sent whole only when Redis does not have them
// yet (NOSCRIPT: first use, a restarted server, or another node of a cluster).
import { createHash } from 'node:crypto';
import type { RedisClient } from './kv.ts';

export type RedisScript = { lua: string; sha: string };

export const redisScript = (lua: string): RedisScript => ({
  lua,
  sha: createHash('sha1').update(lua).digest('hex'),
});

/** Runs `script` with `keys` and `args`: EVALSHA, then EVAL on NOSCRIPT. */
export const runScript = async (
  redis: RedisClient,
  { lua, sha }: RedisScript,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<unknown> => {
  try {
    return await redis.evalsha(sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
    return redis.eval(lua, keys.length, ...keys, ...args);
  }
};
