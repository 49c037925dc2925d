// How the token endpoint's two counters are taken: at once when the client is named in Basic
// auth (one Redis round trip), the address first otherwise (refused before the body is read).
import type { Context } from 'koa';
import { describe, expect, it } from 'vitest';
import { RateLimitedError, type LimitName, type RateLimits } from '../../src/http/rate-limit.ts';
import { clientRateLimit } from '../../src/http/rate-limit-routes.ts';

/** Limits whose takes stay pending until released, recording the order they were asked in. */
const pendingLimits = (refuse: LimitName[] = []) => {
  const asked: string[] = [];
  const waiting: (() => void)[] = [];
  const limits = {
    take: (name: LimitName, key: string) =>
      new Promise<void>((resolve, reject) => {
        asked.push(`${name} ${key}`);
        waiting.push(() => (refuse.includes(name) ? reject(new RateLimitedError('ERR_RATE_LIMITED', 7)) : resolve()));
      }),
  } as unknown as RateLimits;
  const release = () => waiting.splice(0).forEach((go) => go());
  return { limits, asked, release };
};

const tokenRequest = (authorization: string) => {
  const headers = new Map<string, string>();
  return {
    ctx: {
      path: '/token',
      method: 'POST',
      ip: '203.0.113.9',
      get: (name: string) => (name === 'authorization' ? authorization : ''),
      set: (name: string, value: string) => headers.set(name, value),
      status: 404,
      body: undefined as unknown,
    },
    headers,
  };
};

const basic = (clientId: string) => `Basic ${Buffer.from(`${clientId}:secret`).toString('base64')}`;
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('token endpoint rate limits', () => {
  it('takes the address and client counters at once when the client is named in Basic auth', async () => {
    const { limits, asked, release } = pendingLimits();
    const { ctx } = tokenRequest(basic('agency-tax'));
    let engineRan = false;
    const done = clientRateLimit(limits)(ctx as unknown as Context, async () => {
      engineRan = true;
    });
    await tick();
    // Both asked before either answered: they share one round trip.
    expect(asked).toEqual(['tokenAddress 203.0.113.9', 'token agency-tax\u0000203.0.113.9']);
    expect(engineRan).toBe(false);
    release();
    await done;
    expect(engineRan).toBe(true);
  });

  it('refuses with an OAuth error when either counter is spent, without running the engine', async () => {
    for (const spent of ['tokenAddress', 'token'] as const) {
      const { limits, release } = pendingLimits([spent]);
      const { ctx, headers } = tokenRequest(basic('agency-tax'));
      let engineRan = false;
      const done = clientRateLimit(limits)(ctx as unknown as Context, async () => {
        engineRan = true;
      });
      await tick();
      release();
      await done;
      expect(engineRan, spent).toBe(false);
      expect(ctx.status, spent).toBe(429);
      expect(headers.get('Retry-After'), spent).toBe('7');
      expect(ctx.body, spent).toMatchObject({ error: 'temporarily_unavailable' });
    }
  });
});
