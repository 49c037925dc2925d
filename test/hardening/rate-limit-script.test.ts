// The rate limits' own counter script (src/http/rate-limit/counter-script.ts) keeps the counters
// of rate-limiter-flexible's Redis limiter: the same keys, values and expiry, so instances of an
// older version (the library's script) and of this one share each allowance during a rolling
// upgrade; the counters one turn takes go to Redis as one command; a flushed script cache costs
// nothing but a reload.
import { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.ts';
import { createRateLimits, isRateLimited } from '../../src/http/rate-limit/limiter.ts';
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

const refused = (take: Promise<unknown>) =>
  take.then(
    () => false,
    (error: unknown) => {
      if (isRateLimited(error)) return true;
      throw error;
    },
  );

describe.skipIf(!hasRedisServer)(
  'the rate limits’ counter script (skipped: redis-server is not installed)',
  () => {
    let redis: Awaited<ReturnType<typeof startPrivateRedis>>;
    let client: RedisClient;
    const { redisKeyPrefix: prefix } = loadConfig({ ISSUER: 'https://id.example.go.kr' });
    beforeAll(async () => {
      redis = await startPrivateRedis();
      client = connectRedis(redis.url);
      await within(5000, () => expect(client.status).toBe('ready'));
    });
    afterAll(async () => {
      client?.disconnect();
      await redis?.close();
    });

    it('shares each counter with the library’s own Redis limiter (an older instance)', async () => {
      const limits = createRateLimits({ config, redis: client, prefix });
      const older = new RateLimiterRedis({
        storeClient: client,
        keyPrefix: `${prefix}rl:signin`,
        points: 4,
        duration: 60,
      });
      await limits.take('signIn', '198.51.100.1');
      await limits.take('signIn', '198.51.100.1');
      // The library names the counter by its own key: the hashed key limiter.ts gives it.
      const [key] = await client.keys(`${prefix}rl:signin:*`);
      const hashedKey = key!.slice(`${prefix}rl:signin:`.length);
      expect((await older.get(hashedKey))?.consumedPoints).toBe(2);
      await older.consume(hashedKey);
      expect(await client.pttl(key!)).toBeGreaterThan(50_000);
      expect(await refused(limits.take('signIn', '198.51.100.1'))).toBe(false);
      expect(await refused(limits.take('signIn', '198.51.100.1'))).toBe(true);
    });

    it('sends the counters one turn takes as one command, each answered on its own', async () => {
      const limits = createRateLimits({ config, redis: client, prefix });
      const sent: string[] = [];
      const monitor = await new Redis(redis.url).monitor();
      monitor.on('monitor', (_time: string, args: string[]) => {
        if (/^eval/i.test(args[0] ?? '')) sent.push(args[0]!);
      });
      try {
        for (let i = 0; i < 4; i += 1) await limits.take('enrolment', '198.51.100.2');
        await within(2000, () => expect(sent).toHaveLength(4));
        sent.length = 0;
        // A spent counter and a fresh one, taken in one turn: one command, each its own answer.
        const answers = await Promise.all([
          refused(limits.take('enrolment', '198.51.100.2')),
          refused(limits.take('token', 'rp-1\u0000198.51.100.2')),
        ]);
        expect(answers).toEqual([true, false]);
        await within(2000, () => expect(sent).toHaveLength(1));
      } finally {
        monitor.disconnect();
      }
    });

    it('reloads its script when Redis has forgotten it', async () => {
      const limits = createRateLimits({ config, redis: client, prefix });
      await limits.take('admin', '198.51.100.3');
      await client.script('FLUSH');
      await limits.take('admin', '198.51.100.3');
      const [key] = await client.keys(`${prefix}rl:admin:*`);
      expect(await client.get(key!)).toBe('2');
    });
  },
);
