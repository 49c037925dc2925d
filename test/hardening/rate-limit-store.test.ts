// Limits hold across instances: two One-ID instances (two Redis connections) share one counter
// per key, namespaced by REDIS_KEY_PREFIX (derived from the issuer). While Redis is down each instance keeps limiting on its own
// (in-memory insurance), and the shared counters resume when Redis is back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.ts';
import {
  createRateLimits,
  isRateLimited,
  type RateLimits,
} from '../../src/http/rate-limit/limiter.ts';
import { connectRedis, type RedisClient } from '../../src/store/index.ts';
import { hasRedisServer, startPrivateRedis, within } from './support.ts';

const config = {
  signInPerMinute: 4,
  accountPerMinute: 4,
  enrolmentPerMinute: 4,
  tokenPerMinute: 4,
  adminPerMinute: 4,
  lockoutThreshold: 4,
  lockoutSeconds: 60,
};

const refused = async (limits: RateLimits, key: string) => {
  try {
    await limits.take('signIn', key);
    return false;
  } catch (error) {
    if (isRateLimited(error)) return true;
    throw error;
  }
};

describe.skipIf(!hasRedisServer)(
  'rate limits in Redis (skipped: redis-server is not installed)',
  () => {
    let redis: Awaited<ReturnType<typeof startPrivateRedis>>;
    const clients: RedisClient[] = [];
    beforeAll(async () => {
      redis = await startPrivateRedis();
    });
    afterAll(async () => {
      for (const c of clients) c.disconnect();
      await redis?.close();
    });
    const instance = (issuer = 'https://id.example.go.kr') => {
      const client = connectRedis(redis.url);
      clients.push(client);
      const { redisKeyPrefix: prefix } = loadConfig({ ISSUER: issuer });
      return { client, limits: createRateLimits({ config, redis: client, prefix }) };
    };

    it('shares one allowance between instances of one deployment, not between deployments', async () => {
      const [a, b, other] = [instance(), instance(), instance('https://other.example.go.kr')];
      for (const i of [a, b, other])
        await within(5000, () => expect(i.client.status).toBe('ready'));
      const results = [];
      for (const limits of [a, b, a, b, a].map((i) => i.limits))
        results.push(await refused(limits, '203.0.113.1'));
      expect(results).toEqual([false, false, false, false, true]);
      expect(await refused(other.limits, '203.0.113.1')).toBe(false);
      // A lock set by one instance is seen by the other.
      for (let i = 0; i < 4; i += 1) await a.limits.lockout.fail('passkey\u0000cred-1');
      await expect(
        b.limits.lockout.check('passkey\u0000cred-1', 'ERR_CREDENTIAL_LOCKED'),
      ).rejects.toMatchObject({ code: 'ERR_CREDENTIAL_LOCKED', status: 429 });
    });

    it('keeps limiting in memory while Redis is down, at once, and shares again once it is back', async () => {
      const { client, limits } = instance();
      await within(5000, () => expect(client.status).toBe('ready'));
      await redis.stop();
      await within(5000, () => expect(client.status).not.toBe('ready'));
      const started = Date.now();
      const results = [];
      for (let i = 0; i < 5; i += 1) results.push(await refused(limits, '203.0.113.2'));
      expect(Date.now() - started).toBeLessThan(500);
      expect(results).toEqual([false, false, false, false, true]);
      await redis.start();
      await within(5000, () => expect(client.status).toBe('ready'));
      const peer = instance();
      await within(5000, () => expect(peer.client.status).toBe('ready'));
      const shared = [];
      for (const l of [limits, peer.limits, limits, peer.limits, peer.limits])
        shared.push(await refused(l, '203.0.113.3'));
      expect(shared).toEqual([false, false, false, false, true]);
    });
  },
);
