// Limits hold across instances: two One-ID instances (two Redis connections) share one counter
// per key, namespaced by REDIS_KEY_PREFIX (derived from the issuer). While Redis is down or too
// slow each instance keeps limiting on its own counters, which have counted every request
// (and what Redis last answered) all along: a spent allowance is not handed out again. The
// shared counters resume when Redis is back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refused, startRateLimitRedis } from '../support/rate-limits.ts';
import { hasRedisServer, within } from './support.ts';

describe.skipIf(!hasRedisServer)(
  'rate limits in Redis (skipped: redis-server is not installed)',
  () => {
    let redis: Awaited<ReturnType<typeof startRateLimitRedis>>;
    beforeAll(async () => {
      redis = await startRateLimitRedis();
    });
    afterAll(async () => {
      await redis?.close();
    });

    it('shares one allowance between instances of one deployment, not between deployments', async () => {
      const [a, b] = [await redis.instance(), await redis.instance()];
      const other = await redis.instance('https://other.example.go.kr');
      const results = [];
      for (const limits of [a, b, a, b, a].map((i) => i.limits))
        results.push(await refused(limits.take('signIn', '203.0.113.1')));
      expect(results).toEqual([false, false, false, false, true]);
      expect(await refused(other.limits.take('signIn', '203.0.113.1'))).toBe(false);
      // A lock set by one instance is seen by the other.
      for (let i = 0; i < 4; i += 1) await a.limits.lockout.fail('passkey\u0000cred-1');
      await expect(
        b.limits.lockout.check('passkey\u0000cred-1', 'ERR_CREDENTIAL_LOCKED'),
      ).rejects.toMatchObject({ code: 'ERR_CREDENTIAL_LOCKED', status: 429 });
    });

    it('keeps limiting in memory while Redis is down, at once, and shares again once it is back', async () => {
      const { client, limits } = await redis.instance();
      await redis.redis.stop();
      await within(5000, () => expect(client.status).not.toBe('ready'));
      const started = Date.now();
      const results = [];
      for (let i = 0; i < 5; i += 1)
        results.push(await refused(limits.take('signIn', '203.0.113.2')));
      expect(Date.now() - started).toBeLessThan(500);
      expect(results).toEqual([false, false, false, false, true]);
      await redis.redis.start();
      await within(5000, () => expect(client.status).toBe('ready'));
      const peer = await redis.instance();
      const shared = [];
      for (const l of [limits, peer.limits, limits, peer.limits, peer.limits])
        shared.push(await refused(l.take('signIn', '203.0.113.3')));
      expect(shared).toEqual([false, false, false, false, true]);
    });

    it('refuses a spent allowance while Redis is too slow to answer (no fresh allowance on fallback)', async () => {
      const [a, b] = [await redis.instance(), await redis.instance()];
      // The allowance spent through Redis, two requests on each instance: b's answers count a's.
      for (const limits of [a, b, a, b].map((i) => i.limits))
        expect(await refused(limits.take('admin', 'admin-token-1'))).toBe(false);
      expect(await refused(a.limits.take('admin', 'admin-token-2'))).toBe(false);
      redis.redis.pause(); // SIGSTOP: the connections stay open, nothing answers
      try {
        // Each answer now comes from the instance's own counters, after 250 ms.
        expect(await refused(b.limits.take('admin', 'admin-token-1'))).toBe(true);
        // a last heard 3 (its second answer counted b's first): one more, not four.
        expect(await refused(a.limits.take('admin', 'admin-token-1'))).toBe(false);
        expect(await refused(a.limits.take('admin', 'admin-token-1'))).toBe(true);
        // A key taken once before has three left here, not four.
        const results = [];
        for (let i = 0; i < 4; i += 1)
          results.push(await refused(a.limits.take('admin', 'admin-token-2')));
        expect(results).toEqual([false, false, false, true]);
      } finally {
        redis.redis.resume();
      }
    });

    it('keeps a lock and the failures counted while Redis is too slow to answer', async () => {
      const [a, b] = [await redis.instance(), await redis.instance()];
      const locked = (limits: typeof a.limits, key: string) =>
        refused(limits.lockout.check(key, 'ERR_CREDENTIAL_LOCKED'));
      // Locked through Redis by a; b has read the lock there.
      for (let i = 0; i < 4; i += 1) await a.limits.lockout.fail('passkey\u0000cred-2');
      expect(await locked(b.limits, 'passkey\u0000cred-2')).toBe(true);
      // Another credential one failure short of its first delay (from the second, of four).
      await a.limits.lockout.fail('passkey\u0000cred-3');
      redis.redis.pause();
      try {
        expect(await locked(a.limits, 'passkey\u0000cred-2')).toBe(true);
        expect(await locked(b.limits, 'passkey\u0000cred-2')).toBe(true);
        expect(await a.limits.lockout.fail('passkey\u0000cred-3')).toBe(1);
        expect(await locked(a.limits, 'passkey\u0000cred-3')).toBe(true);
      } finally {
        redis.redis.resume();
      }
    });
  },
);
