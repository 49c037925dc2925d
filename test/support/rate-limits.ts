// Shared by the rate-limit tests that run the limiter against a Redis of their own: small limits,
// a private redis-server (which the test may stop, hang and start again) with a connection to it,
// and `refused`, which tells a refusal (429) from an allowance and rethrows anything else.
import { loadConfig } from '../../src/config/index.ts';
import { createRateLimits, isRateLimited } from '../../src/http/rate-limit/limiter.ts';
import { connectRedis, type RedisClient } from '../../src/store/index.ts';
import { startPrivateRedis, within } from '../hardening/support.ts';

/** Four of everything per minute; locked at the fourth failure, for a minute. */
export const smallLimits = {
  signInPerMinute: 4,
  accountPerMinute: 4,
  enrolmentPerMinute: 4,
  tokenPerMinute: 4,
  adminPerMinute: 4,
  lockoutThreshold: 4,
  lockoutSeconds: 60,
};

/** True when `attempt` was refused with 429 (RateLimitedError), false when it was allowed. */
export const refused = (attempt: Promise<unknown>) =>
  attempt.then(
    () => false,
    (error: unknown) => {
      if (isRateLimited(error)) return true;
      throw error;
    },
  );

/**
 * A private redis-server and the One-ID instances connected to it (`instance()`: a connection
 * and its rate limits, for the deployment `issuer` names). Call `close()` in afterAll.
 */
export const startRateLimitRedis = async () => {
  const redis = await startPrivateRedis();
  const clients: RedisClient[] = [];
  return {
    redis,
    async instance(issuer = 'https://id.example.go.kr') {
      const client = connectRedis(redis.url);
      clients.push(client);
      const { redisKeyPrefix: prefix } = loadConfig({ ISSUER: issuer });
      await within(5000, () => {
        if (client.status !== 'ready') throw new Error(`redis connection ${client.status}`);
      });
      return {
        client,
        prefix,
        limits: createRateLimits({ config: smallLimits, redis: client, prefix }),
      };
    },
    async close() {
      for (const client of clients) client.disconnect();
      await redis.close();
    },
  };
};
