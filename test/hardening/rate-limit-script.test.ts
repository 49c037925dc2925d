// The rate limits' own counter script (src/http/rate-limit/counter-script.ts) keeps the counters
// and lockouts of rate-limiter-flexible's Redis limiter, which One-ID used before: the same keys,
// values and expiry, so instances of an older version (the library) and of this one share each
// allowance, failure count and lock during a rolling upgrade; the counters one turn touches go
// to Redis as one command; a flushed script cache costs nothing but a reload.
import { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refused, startRateLimitRedis } from '../support/rate-limits.ts';
import { hasRedisServer, within } from './support.ts';

describe.skipIf(!hasRedisServer)(
  'the rate limits’ counter script (skipped: redis-server is not installed)',
  () => {
    let redis: Awaited<ReturnType<typeof startRateLimitRedis>>;
    let one: Awaited<ReturnType<typeof redis.instance>>;
    beforeAll(async () => {
      redis = await startRateLimitRedis();
      one = await redis.instance();
    });
    afterAll(async () => {
      await redis?.close();
    });
    // The older version's limiters (limiter.ts before): the library's, named by their key prefix.
    const older = (name: string, points: number, duration: number) =>
      new RateLimiterRedis({
        storeClient: one.client,
        keyPrefix: `${one.prefix}rl:${name}`,
        points,
        duration,
      });
    // The library names a counter by its own key: the hashed key limiter.ts gives it.
    const hashedKeys = async (name: string) =>
      (await one.client.keys(`${one.prefix}rl:${name}:*`)).map((key) =>
        key.slice(`${one.prefix}rl:${name}:`.length),
      );

    it('shares each counter with the library’s own Redis limiter (an older instance)', async () => {
      const { limits, client } = one;
      const signIn = older('signin', 4, 60);
      await limits.take('signIn', '198.51.100.1');
      await limits.take('signIn', '198.51.100.1');
      const [hashedKey] = await hashedKeys('signin');
      expect((await signIn.get(hashedKey!))?.consumedPoints).toBe(2);
      await signIn.consume(hashedKey!);
      expect(await client.pttl(`${one.prefix}rl:signin:${hashedKey}`)).toBeGreaterThan(50_000);
      expect(await refused(limits.take('signIn', '198.51.100.1'))).toBe(false);
      expect(await refused(limits.take('signIn', '198.51.100.1'))).toBe(true);
    });

    it('shares failures and locks with the library’s lockout (an older instance), both ways', async () => {
      const { limits } = one;
      // As limiter.ts before: failures counted over an hour, a lock is block() of one point.
      const failures = older('fail', Number.MAX_SAFE_INTEGER, 3600);
      const locks = older('lock', 1, 1);
      const locked = (key: string) => refused(limits.lockout.check(key, 'ERR_CREDENTIAL_LOCKED'));
      // Failures: two here, one there, the fourth here locks (threshold 4).
      expect(await limits.lockout.fail('passkey\u0000cred-a')).toBe(0);
      const [failed] = await hashedKeys('fail');
      expect((await failures.penalty(failed!, 1)).consumedPoints).toBe(2);
      expect(await limits.lockout.fail('passkey\u0000cred-a')).toBe(2);
      expect(await limits.lockout.fail('passkey\u0000cred-a')).toBe(60);
      // The lock this version set, as the older one reads it (lockout.check before).
      const lock = await locks.get(failed!);
      expect(lock?.consumedPoints).toBe(2);
      expect(lock?.msBeforeNext).toBeGreaterThan(55_000);
      // A success here forgets the failures for the older version too.
      await limits.lockout.succeed('passkey\u0000cred-a');
      expect(await failures.get(failed!)).toBeNull();
      // A lock the older version set (block), seen here; its failures forgotten there, here.
      expect(await limits.lockout.fail('passkey\u0000cred-b')).toBe(0);
      const [other] = (await hashedKeys('fail')).filter((key) => key !== failed);
      expect(await locked('passkey\u0000cred-b')).toBe(false);
      await locks.block(other!, 30);
      expect(await locked('passkey\u0000cred-b')).toBe(true);
      await failures.delete(other!);
      expect(await limits.lockout.fail('passkey\u0000cred-b')).toBe(0);
    });

    it('sends the counters one turn touches as one command, each answered on its own', async () => {
      const { limits } = one;
      const sent: string[] = [];
      const monitor = await new Redis(redis.redis.url).monitor();
      monitor.on('monitor', (_time: string, args: string[]) => {
        if (/^eval/i.test(args[0] ?? '')) sent.push(args[0]!);
      });
      try {
        for (let i = 0; i < 4; i += 1) await limits.take('enrolment', '198.51.100.2');
        await within(2000, () => expect(sent).toHaveLength(4));
        sent.length = 0;
        // A spent counter, a fresh one and a lockout read in one turn: one command, each its
        // own answer.
        const answers = await Promise.all([
          refused(limits.take('enrolment', '198.51.100.2')),
          refused(limits.take('token', 'rp-1\u0000198.51.100.2')),
          refused(limits.lockout.check('passkey\u0000cred-c', 'ERR_CREDENTIAL_LOCKED')),
        ]);
        expect(answers).toEqual([true, false, false]);
        await within(2000, () => expect(sent).toHaveLength(1));
      } finally {
        monitor.disconnect();
      }
    });

    it('reloads its script when Redis has forgotten it', async () => {
      const { limits, client } = one;
      await limits.take('admin', '198.51.100.3');
      await client.script('FLUSH');
      await limits.take('admin', '198.51.100.3');
      const [key] = await client.keys(`${one.prefix}rl:admin:*`);
      expect(await client.get(key!)).toBe('2');
    });
  },
);
