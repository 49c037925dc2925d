// How the token endpoint's two counters are taken: at once when the client is named in Basic
// auth (one Redis round trip), the address first otherwise (refused before the body is read);
// which counter each of our routes spends; and how the passkey ceremony issues its counters and
// checks at once yet decides in order (test/hardening/rate-limits.test.ts sends the bursts).
import type { Context } from 'koa';
import { describe, expect, it } from 'vitest';
import {
  RateLimitedError,
  type LimitName,
  type RateLimits,
} from '../../src/http/rate-limit/limiter.ts';
import { guardCertificates, guardPasskeys } from '../../src/http/rate-limit/guards.ts';
import {
  CertificateError,
  type CertificateLoginService,
} from '../../src/auth/certificate/index.ts';
import type { PasskeyServiceLike } from '../../src/http/deps.ts';
import { AppError } from '../../src/shared/index.ts';
import {
  clientRateLimit,
  routeRateLimits,
  signInCounter,
} from '../../src/http/rate-limit/routes.ts';

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

describe('the passkey ceremony counts its sign-in attempt with its own reads', () => {
  const ceremony = (refuse: LimitName[] = []) => {
    const { limits, asked, release } = pendingLimits(refuse);
    const ctx = { path: '/interaction/u1/passkey/verify', ip: '203.0.113.9' };
    return { limits, asked, release, ctx: ctx as unknown as Context };
  };

  it('takes the counter when the route asks, once, and decides on it first', async () => {
    const { limits, asked, release, ctx } = ceremony(['signIn']);
    let reads = 0;
    const done = routeRateLimits(limits)(ctx, async () => {
      // The route reads its body first (no counter yet), then issues its reads with the counter.
      await tick();
      expect(asked).toEqual([]);
      const counted = signInCounter(ctx);
      reads += 1;
      expect(signInCounter(ctx)).toBe(counted);
      await counted;
      reads += 1; // never reached: the spent allowance answers
    });
    await tick();
    expect(asked).toEqual(['signIn 203.0.113.9']);
    release();
    await expect(done).rejects.toMatchObject({ code: 'ERR_RATE_LIMITED' });
    expect(reads).toBe(1);
    expect(asked).toHaveLength(1);
  });

  it('counts a request refused before it asked (body, CSRF); a spent allowance is the answer', async () => {
    for (const spent of [false, true]) {
      const { limits, asked, release, ctx } = ceremony(spent ? ['signIn'] : []);
      const csrf = Object.assign(new Error('csrf'), { code: 'ERR_CSRF' });
      const done = routeRateLimits(limits)(ctx, async () => {
        throw csrf;
      });
      await tick();
      expect(asked).toEqual(['signIn 203.0.113.9']);
      release();
      await expect(done).rejects.toMatchObject({ code: spent ? 'ERR_RATE_LIMITED' : 'ERR_CSRF' });
    }
  });
});

describe("a passkey attempt's checks", () => {
  /** The guarded service over a stand-in that records when it was asked and what it decided. */
  const guarded = (lockout: 'open' | 'locked') => {
    const events: string[] = [];
    const waiting: (() => void)[] = [];
    const answer = <T>(event: string, settle: () => T) =>
      new Promise<T>((resolve, reject) => {
        events.push(event);
        waiting.push(() => {
          try {
            resolve(settle());
          } catch (error) {
            reject(error as Error);
          }
        });
      });
    const limits = {
      take: (name: LimitName) => answer(`take ${name}`, () => undefined),
      lockout: {
        check: () =>
          answer('lockout', () => {
            if (lockout === 'locked') throw new RateLimitedError('ERR_CREDENTIAL_LOCKED', 9);
          }),
        fail: async () => void events.push('failure counted'),
        succeed: async () => void events.push('failures forgotten'),
      },
    } as unknown as RateLimits;
    const service = {
      async verifyAuthentication(_binding: string, _response: unknown, checked: unknown) {
        events.push('challenge taken');
        await checked;
        events.push('verified');
        return { accountId: 'a', credentialId: 'c', amr: ['hwk', 'user'] };
      },
    } as unknown as PasskeyServiceLike;
    const release = () => waiting.splice(0).forEach((go) => go());
    return { passkeys: guardPasskeys(service, limits), events, release };
  };
  const response = { id: 'credential-1' } as never;

  it('are all asked before any answers, and the caller refuses first: not a passkey failure', async () => {
    const { passkeys, events, release } = guarded('locked');
    const expired = new AppError('ERR_INTERACTION_EXPIRED', 'gone', { status: 400 });
    let refuse!: (error: Error) => void;
    const caller = new Promise<never>((_resolve, reject) => (refuse = reject));
    const attempt = passkeys.verifyAuthentication('interaction:u1', response, caller);
    await tick();
    expect(events).toEqual(['take account', 'lockout', 'challenge taken']);
    release();
    refuse(expired);
    await expect(attempt).rejects.toBe(expired);
    expect(events).not.toContain('verified');
    expect(events).not.toContain('failure counted');
  });

  it('refuse a locked credential before any verification, without counting a failure', async () => {
    const { passkeys, events, release } = guarded('locked');
    const attempt = passkeys.verifyAuthentication('interaction:u1', response, {});
    await tick();
    release();
    await expect(attempt).rejects.toMatchObject({ code: 'ERR_CREDENTIAL_LOCKED', status: 429 });
    expect(events).not.toContain('verified');
    expect(events).not.toContain('failure counted');
  });

  it('let an open credential through to verification', async () => {
    const { passkeys, events, release } = guarded('open');
    const attempt = passkeys.verifyAuthentication('interaction:u1', response, {});
    await tick();
    release();
    await expect(attempt).resolves.toMatchObject({ accountId: 'a' });
    expect(events).toEqual([
      'take account',
      'lockout',
      'challenge taken',
      'verified',
      'failures forgotten',
    ]);
  });
});

describe("a signed certificate challenge's lockouts", () => {
  /** The guarded service over a stand-in whose lockout reads answer only when released. */
  const guarded = (locked: string[], outcome: 'signed-in' | 'forged') => {
    const events: string[] = [];
    const waiting: (() => void)[] = [];
    const name = (key: string) => key.split('\u0000')[0]!;
    const limits = {
      lockout: {
        check: (key: string, code: 'ERR_RATE_LIMITED' | 'ERR_CERTIFICATE_LOCKED') =>
          new Promise<void>((resolve, reject) => {
            events.push(`check ${name(key)}`);
            waiting.push(() =>
              locked.includes(name(key)) ? reject(new RateLimitedError(code, 9)) : resolve(),
            );
          }),
        fail: (key: string) =>
          new Promise<number>((resolve) => {
            events.push(`fail ${name(key)}`);
            waiting.push(() => resolve(0));
          }),
        succeed: async (key: string) => void events.push(`succeed ${name(key)}`),
      },
    } as unknown as RateLimits;
    const certificates = {
      async signInWithChallenge() {
        events.push('verified');
        if (outcome === 'forged') throw new CertificateError('bad_signature', 'not its key');
        return { accountId: 'a' };
      },
    } as unknown as CertificateLoginService;
    const release = () => waiting.splice(0).forEach((go) => go());
    return { certificates: guardCertificates(certificates, limits), events, release };
  };
  const header = Buffer.from(JSON.stringify({ alg: 'ES256', x5c: ['AQID'] })).toString('base64url');
  const jws = `${header}.e30.c2ln`;

  it('reads every lock in the same turn (one script), then refuses in the old order', async () => {
    const { certificates, events, release } = guarded(['address', 'certificate'], 'signed-in');
    const attempt = certificates.signInWithChallenge('u1', jws, { ip: '192.0.2.1' });
    await tick();
    expect(events).toEqual(['check interaction', 'check address', 'check certificate']);
    release();
    // The address comes before the certificate: a stranger's lock answers, not the holder's.
    await expect(attempt).rejects.toMatchObject({ code: 'ERR_RATE_LIMITED', status: 429 });
    expect(events).not.toContain('verified');
  });

  it('lets an unlocked certificate through and forgets its failures', async () => {
    const { certificates, events, release } = guarded([], 'signed-in');
    const attempt = certificates.signInWithChallenge('u1', jws, { ip: '192.0.2.1' });
    await tick();
    release();
    await expect(attempt).resolves.toMatchObject({ accountId: 'a' });
    expect(events.slice(3)).toEqual(['verified', 'succeed certificate']);
  });

  it("counts a forgery against the stranger's interaction and address together", async () => {
    const { certificates, events, release } = guarded([], 'forged');
    const attempt = certificates.signInWithChallenge('u1', jws, { ip: '192.0.2.1' });
    await tick();
    release();
    await tick();
    expect(events.slice(3)).toEqual(['verified', 'fail interaction', 'fail address']);
    release();
    await expect(attempt).rejects.toMatchObject({ reason: 'bad_signature' });
  });
});
