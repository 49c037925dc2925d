// Faults: Redis killed and started again, Redis hanging, PostgreSQL stopped and started, in the
// middle of sign-ins; a back-channel logout receiver that never answers; a CRL server that hangs.
// While a dependency is down One-ID answers 503 (a readable page, problem+json, or OAuth
// `temporarily_unavailable`), fast, and /readyz fails; it recovers by itself within seconds of
// the dependency's return, without a restart; and every consent, credential and audit record
// written before the fault is still there, once. Private servers only (support.ts): the
// machine's shared PostgreSQL and Redis are never touched.
import { randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { createBrowserSession, csrfFrom } from '../support/browser-session.ts';
import {
  authorizationRequest,
  discover,
  enrolCitizen,
  registerClient,
  signIn,
} from '../support/flows.ts';
import { agencyWithReceiver, signInTo, type Receiver } from '../sso/support.ts';
import {
  certificateEnv,
  challengeSignIn,
  createTestPki,
  linkCertificate,
  openLogin as openCertLogin,
  startRp,
  type TestPki,
} from '../auth/certificate-login/support.ts';
import {
  captureLogs,
  expectKept,
  hasPostgresServer,
  hasRedisServer,
  snapshot,
  startPrivatePostgres,
  startPrivateRedis,
  timedFetch,
  within,
  type Snapshot,
} from './support.ts';

const REDIS_PASSWORD = `redis-pw-${randomBytes(8).toString('hex')}`;

describe.skipIf(!hasRedisServer || !hasPostgresServer)(
  'dependency faults (private redis-server and PostgreSQL; skipped when their binaries are missing)',
  () => {
    let pg: Awaited<ReturnType<typeof startPrivatePostgres>>;
    let redis: Awaited<ReturnType<typeof startPrivateRedis>>;
    let app: TestApp;
    let citizen: Awaited<ReturnType<typeof enrolCitizen>>;
    let client: Awaited<ReturnType<typeof registerClient>>;
    let config: oidc.Configuration;
    let before: Snapshot;
    const logs = captureLogs();
    const seen: Record<string, string | undefined> = {};
    const receivers: Receiver[] = [];

    beforeAll(async () => {
      [pg, redis] = await Promise.all([
        startPrivatePostgres(),
        startPrivateRedis({ password: REDIS_PASSWORD }),
      ]);
      app = await startTestApp(
        {
          DATABASE_URL: pg.url,
          REDIS_URL: redis.url,
          OUTBOUND_PRIVATE_HOSTS: 'localhost',
          BACKCHANNEL_POLL_MS: '100',
          BACKCHANNEL_TIMEOUT_MS: '1000',
        },
        { app: { logger: logs.logger } },
      );
      citizen = await enrolCitizen(app, {
        name: '윤서진',
        birthdate: '1984-04-14',
        email: `yoon.${randomBytes(3).toString('hex')}@example.com`,
        phone: '010-2468-1357',
      });
      client = await registerClient(app);
      config = await discover(app, client);
      // A first sign-in with consent and tokens: the records a fault must not touch.
      const request = await authorizationRequest(config, client.redirectUri);
      const tokens = await oidc.authorizationCodeGrant(
        config,
        new URL(await signIn(app, createBrowserSession(), citizen.authenticator, request.url)),
        {
          pkceCodeVerifier: request.verifier,
          expectedState: request.state,
          expectedNonce: request.nonce,
        },
      );
      Object.assign(seen, {
        'client secret': client.clientSecret,
        'access token': tokens.access_token,
        'ID token': tokens.id_token,
      });
      before = await snapshot(app.knex);
      expect(before.consents).toHaveLength(1);
    });

    afterAll(async () => {
      for (const r of receivers) await r.close();
      await app?.stop();
      await redis?.close();
      await pg?.close();
    });

    /** Opens the login page of a new authorization request; returns what continuing it needs. */
    const startSignIn = async () => {
      const session = createBrowserSession();
      const request = await authorizationRequest(config, client.redirectUri);
      const { res, url } = await session.follow(request.url.toString(), app.issuer);
      const html = await res.text();
      expect(html).toContain('id="passkey-login"');
      return { session, request, url, path: new URL(url).pathname, csrf: csrfFrom(html) };
    };
    type SignIn = Awaited<ReturnType<typeof startSignIn>>;

    const ceremony = async (s: SignIn, step: 'options' | 'verify', json: unknown) =>
      s.session.request(`${app.issuer}${s.path}/passkey/${step}`, {
        method: 'POST',
        json,
        headers: { 'x-csrf-token': s.csrf, accept: 'application/json' },
        signal: AbortSignal.timeout(5000),
      });

    /** Passkey sign-in on the open interaction, then on to the client's callback and the tokens. */
    const finish = async (s: SignIn) => {
      const options = await (await ceremony(s, 'options', {})).json();
      const verify = await ceremony(s, 'verify', citizen.authenticator.authenticate(options));
      expect(verify.status).toBe(200);
      const { url } = await s.session.follow(
        new URL((await verify.json()).location, app.issuer).toString(),
        app.issuer,
      );
      expect(url.startsWith(client.redirectUri)).toBe(true);
      return oidc.authorizationCodeGrant(config, new URL(url), {
        pkceCodeVerifier: s.request.verifier,
        expectedState: s.request.state,
        expectedNonce: s.request.nonce,
      });
    };

    const tokenRequest = (code = 'no-such-code') =>
      timedFetch(`${app.issuer}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}`,
        },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code,
          redirect_uri: client.redirectUri,
          code_verifier: 'v'.repeat(43),
        }).toString(),
      });

    /**
     * Each answer while the dependency is down: fast, 503 with Retry-After, never a 500. A stopped
     * server is known at once; one that hangs costs ioredis's commandTimeout (1 s; 2 s behind an
     * auto-pipelined batch in flight).
     */
    const expectUnavailable = async (started: number, res: Response, maxMs = 1500) => {
      expect(Date.now() - started, 'answered fast').toBeLessThan(maxMs);
      expect(res.status).toBe(503);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    };
    const timed = async (request: () => Promise<Response>, maxMs?: number) => {
      const started = Date.now();
      const res = await request();
      await expectUnavailable(started, res, maxMs);
      return res;
    };

    const expectNotReady = async (dependency: 'redis' | 'database') => {
      const ready = await timedFetch(`${app.issuer}/readyz`);
      expect(ready.status).toBe(503);
      expect((await ready.json()).checks[dependency]).toBe('unavailable');
    };
    const recovered = async () =>
      within(
        15_000,
        async () => {
          const ready = await timedFetch(`${app.issuer}/readyz`);
          expect(ready.status).toBe(200);
        },
        200,
      );

    /** The durable tables after a fault: nothing lost, nothing duplicated, the audit chain whole. */
    const expectDurableRecordsKept = async () => {
      const after = await snapshot(app.knex);
      expectKept(before, after);
      // One consent per citizen and client: a sign-in retried across the fault did not record it twice.
      expect(after.consents).toHaveLength(before.consents.length);
      expect(await app.services.audit.verify()).toMatchObject({ ok: true });
      before = after;
    };

    it('Redis killed in the middle of a sign-in: 503 everywhere, /readyz fails, then it recovers by itself', async () => {
      const pending = await startSignIn();
      await redis.stop();

      const page = await timed(() =>
        timedFetch(new URL(pending.url), {
          headers: { cookie: [...pending.session.jar].map(([k, v]) => `${k}=${v}`).join('; ') },
        }),
      );
      expect(page.headers.get('content-type')).toMatch(/text\/html/);
      expect(page.headers.get('content-security-policy')).toMatch(/script-src 'nonce-/);
      expect(await page.text()).toContain('잠시 서비스를 이용할 수 없습니다');
      const options = await timed(() => ceremony(pending, 'options', {}));
      expect(await options.json()).toMatchObject({ code: 'ERR_UNAVAILABLE' });
      const token = await timed(() => tokenRequest());
      expect(await token.json()).toMatchObject({ error: 'temporarily_unavailable' });
      // The authorization endpoint tells the client (RFC 6749 4.1.2.1), or shows the page.
      const started = Date.now();
      const authorize = await timedFetch(
        (await authorizationRequest(config, client.redirectUri)).url,
      );
      expect(Date.now() - started).toBeLessThan(1500);
      if (authorize.status === 303)
        expect(new URL(authorize.headers.get('location')!).searchParams.get('error')).toBe(
          'temporarily_unavailable',
        );
      else await expectUnavailable(started, authorize);
      await expectNotReady('redis');

      await redis.start();
      await recovered();
      // Redis kept nothing (no persistence): the old sign-in is gone and says so readably; a new one works.
      const expired = await pending.session.request(pending.url);
      expect(expired.status).toBeGreaterThanOrEqual(400);
      expect(expired.status).toBeLessThan(500);
      expect(await expired.text()).toContain('One-ID');
      const tokens = await finish(await startSignIn());
      seen['access token after recovery'] = tokens.access_token;
      expect(
        (await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub)).name,
      ).toBe('윤서진');
      await expectDurableRecordsKept();
    });

    it('Redis that hangs: requests fail within seconds instead of waiting, and the sign-in continues once it answers', async () => {
      const pending = await startSignIn();
      redis.pause();
      try {
        // Our route and the engine's, several at once (they queue behind one another's Redis
        // commands): each is still cut by the command timeout.
        await Promise.all(
          [1, 2, 3].flatMap(() => [
            timed(() => ceremony(pending, 'options', {}), 3000),
            timed(() => tokenRequest(), 3000),
          ]),
        );
      } finally {
        redis.resume();
      }
      await recovered();
      // Nothing was lost: the same interaction goes on to the client.
      const tokens = await finish(pending);
      expect(tokens.access_token).toBeTruthy();
      await expectDurableRecordsKept();
    });

    it('PostgreSQL stopped and started: 503 while down, the sign-in retried afterwards succeeds, nothing lost or duplicated', async () => {
      const signedIn = await finish(await startSignIn());
      const pending = await startSignIn();
      const options = await (await ceremony(pending, 'options', {})).json();
      await pg.stop();
      try {
        const verify = await timed(() =>
          ceremony(pending, 'verify', citizen.authenticator.authenticate(options)),
        );
        expect(await verify.json()).toMatchObject({ code: 'ERR_UNAVAILABLE' });
        // Userinfo reads the citizen's account from the instance's short-lived account cache
        // (issue 16; nothing can change it while the database is down), and its token and grant
        // from Redis: it keeps answering, fast, with the citizen's claims.
        const startedUserinfo = Date.now();
        const userinfo = await timedFetch(`${app.issuer}/me`, {
          headers: { authorization: `Bearer ${signedIn.access_token}` },
        });
        expect(Date.now() - startedUserinfo).toBeLessThan(1500);
        expect(userinfo.status).toBe(200);
        expect((await userinfo.json()).sub).toBe(signedIn.claims()!.sub);
        // A new authorization: the readable page, or (client metadata cached) on to the sign-in page; fast, never a 500.
        const started = Date.now();
        const authorize = await timedFetch(
          (await authorizationRequest(config, client.redirectUri)).url,
        );
        if (authorize.status === 503) {
          await expectUnavailable(started, authorize);
          expect(await authorize.text()).toContain('잠시 서비스를 이용할 수 없습니다');
        } else {
          expect(Date.now() - started).toBeLessThan(1500);
          expect(authorize.status).toBe(303);
          expect(authorize.headers.get('location')).toMatch(/\/interaction\//);
        }
        await expectNotReady('database');
      } finally {
        await pg.start();
      }
      await recovered();
      const tokens = await finish(pending);
      expect(tokens.claims()!.sub).toBeTruthy();
      await expectDurableRecordsKept();
    });

    it('a back-channel logout receiver that never answers does not delay the citizen’s logout page', async () => {
      // test/sso/backchannel-logout.test.ts covers a slow receiver; this one hangs for good.
      const agency = await agencyWithReceiver(app, 'Hanging Agency');
      receivers.push(agency.receiver);
      agency.receiver.setDelay(60_000);
      const session = createBrowserSession();
      await signInTo(app, session, citizen.authenticator, agency);
      // The agency's client and consent are part of what must be kept from here on.
      before = await snapshot(app.knex);
      const page = await session.request(`${app.issuer}/session/end`);
      const html = await page.text();
      const action = /id="op\.logoutForm" method="post" action="([^"]+)"/.exec(html)![1]!;
      const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)![1]!;
      const started = Date.now();
      const done = await session.request(new URL(action, app.issuer), {
        method: 'POST',
        form: { xsrf, logout: 'yes' },
      });
      const signedOut = await session.request(new URL(done.headers.get('location')!, app.issuer));
      expect(signedOut.status).toBe(200);
      expect(Date.now() - started).toBeLessThan(1000);
      await within(5000, () => expect(agency.receiver.requests()).toBeGreaterThan(0));
      // The timed-out delivery waits in the durable queue for its retry, once; nothing else changed.
      await within(8000, async () => {
        const queued = await app
          .knex('backchannel_deliveries')
          .where({ client_id: agency.clientId })
          .select('status', 'attempts', 'last_error');
        expect(queued).toHaveLength(1);
        expect(queued[0]).toMatchObject({ status: 'pending', last_error: expect.any(String) });
        expect(queued[0]!.attempts).toBeGreaterThanOrEqual(1);
      });
      await expectDurableRecordsKept();
    });

    it('logs the outages without secrets, tokens, passwords or personal data', async () => {
      await new Promise((resolve) => setImmediate(resolve));
      const log = logs.lines.join('\n');
      expect(log).toMatch(/dependency unavailable|redis connection lost/);
      logs.expectNone({
        ...seen,
        'Redis password': REDIS_PASSWORD,
        'citizen name': '윤서진',
        'citizen email': citizen.account.email ?? undefined,
        'citizen phone': '010-2468-1357',
        'citizen birthdate': '1984-04-14',
      });
    });
  },
);

describe('a CRL server that hangs', () => {
  let pki: TestPki;
  let app: TestApp;
  beforeAll(async () => {
    pki = await createTestPki();
    app = await startTestApp(certificateEnv(pki, { CERT_REVOCATION_TIMEOUT_MS: '500' }));
  });
  afterAll(async () => {
    await app?.stop();
    await pki?.close();
  });

  it('refuses in bounded time with a readable "try again later" (503), and passkeys keep working', async () => {
    pki.server.hang('/hanging.crl');
    const leaf = await pki.citizen({ crlUrl: `${pki.server.url}/hanging.crl` });
    const { authenticator, account } = await enrolCitizen(app);
    await linkCertificate(app, account.id, await pki.citizen(), [pki.intermediate]); // a second, healthy certificate (not used)
    const rp = await startRp(app);
    const session = createBrowserSession();
    const login = await openCertLogin(app, session, rp.request.url);
    const before = await snapshot(app.knex);
    const certificates = () => app.knex('account_certificates').orderBy('fingerprint').select();
    const linked = await certificates();
    expect(linked.filter((c: { account_id: string }) => c.account_id === account.id)).toHaveLength(
      1,
    );
    const started = Date.now();
    const { res, body } = await challengeSignIn(app, session, login, leaf, [pki.intermediate]);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(res.status).toBe(503);
    expect(body).toMatchObject({
      code: 'ERR_CERT_REVOCATION_UNAVAILABLE',
      message: expect.stringContaining('잠시 후'),
    });
    // The same sign-in goes on with a passkey.
    const options = await (
      await session.request(`${app.issuer}${login.path}/passkey/options`, {
        method: 'POST',
        json: {},
        headers: { 'x-csrf-token': login.csrf },
      })
    ).json();
    const verify = await session.request(`${app.issuer}${login.path}/passkey/verify`, {
      method: 'POST',
      json: authenticator.authenticate(options),
      headers: { 'x-csrf-token': login.csrf },
    });
    expect(verify.status).toBe(200);
    // Nothing lost or duplicated: the refusal wrote no link, the linked certificate is untouched,
    // and the audit chain (with the refusal and the sign-in in it) is whole.
    expectKept(before, await snapshot(app.knex));
    expect(await certificates()).toEqual(linked);
    expect(await app.services.audit.verify()).toMatchObject({ ok: true });
  });
});
