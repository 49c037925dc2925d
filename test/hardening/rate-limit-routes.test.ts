// How the token endpoint's two counters are taken: at once when the client is named in Basic
// auth (one Redis round trip), the address first otherwise (refused before the body is read);
// and which counter each of our routes spends (test/hardening/rate-limits.test.ts sends the bursts).
import type { Context } from 'koa';
import { describe, expect, it } from 'vitest';
import {
  RateLimitedError,
  type LimitName,
  type RateLimits,
} from '../../src/http/rate-limit/limiter.ts';
import { clientRateLimit, routeRateLimits } from '../../src/http/rate-limit/routes.ts';

/** Limits whose takes stay pending until released, recording the order they were asked in. */
const pendingLimits = (refuse: LimitName[] = []) => {
  const asked: string[] = [];
  const waiting: (() => void)[] = [];
  const limits = {
    take: (name: LimitName, key: string) =>
      new Promise<void>((resolve, reject) => {
        asked.push(`${name} ${key}`);
        waiting.push(() =>
          refuse.includes(name) ? reject(new RateLimitedError('ERR_RATE_LIMITED', 7)) : resolve(),
        );
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

describe('which counter our routes spend', () => {
  const counted = async (path: string) => {
    const asked: string[] = [];
    const limits = {
      take: async (name: LimitName) => void asked.push(name),
    } as unknown as RateLimits;
    await routeRateLimits(limits)(
      { path, ip: '203.0.113.9' } as unknown as Context,
      async () => undefined,
    );
    return asked.join(' ') || 'none';
  };

  it('counts every sign-in ceremony per address, and not the pages around them', async () => {
    const table: Record<string, string> = {
      '/interaction/u1/passkey/options': 'signIn',
      '/interaction/u1/certificate/verify': 'signIn',
      '/interaction/u1/upstream/gov': 'signIn',
      '/federation/callback': 'signIn',
      '/interaction/u1/federation/return': 'signIn',
      '/interaction/u1/federation/link': 'signIn',
      '/interaction/u1/federation/link/passkey/options': 'signIn',
      '/interaction/u1/federation/link/passkey/verify': 'signIn',
      '/interaction/u1/federation/link/confirm': 'signIn',
      '/interaction/u1/federation/link/enrol': 'signIn',
      '/interaction/u1/federation/link/sign-in': 'signIn',
      '/account/recover/passkey/options': 'signIn',
      '/account/recover/passkey/verify': 'signIn',
      '/account/recover/passkeys/remove': 'signIn',
      '/account/recover/certificates/remove': 'signIn',
      '/account/security/passkey/options': 'signIn',
      '/enrol/abc': 'enrolment',
      '/enrol/abc/verify': 'enrolment',
      '/enrol/done': 'none',
      '/interaction/u1': 'none',
      '/account/recover': 'none',
      '/account': 'none',
    };
    const seen = Object.fromEntries(
      await Promise.all(Object.keys(table).map(async (path) => [path, await counted(path)])),
    );
    expect(seen).toEqual(table);
  });
});
