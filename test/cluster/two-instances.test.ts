// Two instances behind one issuer, sharing PostgreSQL and Redis: any request may land on any
// instance. A small reverse proxy on the issuer's port plays the load balancer: it keeps the
// Host header (as nginx does with `proxy_set_header Host $host`) and forwards each request to
// the instance the test chooses.
import { createServer, request as forward, type Server } from 'node:http';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import {
  freePort,
  onPostgres,
  ownDatabaseUrl,
  startTestApp,
  type TestApp,
} from '../support/app.ts';
import { createBrowserSession, csrfFrom } from '../support/browser-session.ts';
import {
  authorizationRequest,
  discover,
  enrolCitizen,
  registerClient,
  signInDetailed,
} from '../support/flows.ts';
import { instanceJwks } from '../support/instance-jwks.ts';
import type { SoftAuthenticator } from '../support/soft-authenticator.ts';
import {
  agencyWithReceiver,
  eventually,
  FAST_QUEUE,
  signInTo,
  silentAuthError,
} from '../sso/support.ts';

// Instances share state only through PostgreSQL and Redis; the embedded default is one process.
const shared = onPostgres() && Boolean(inject('redisUrl'));

let first: TestApp;
let second: TestApp;
let citizen: { authenticator: SoftAuthenticator };
let client: Awaited<ReturnType<typeof registerClient>>;

/** The load balancer: forwards every request to `balancer.target`. */
const balancer = {
  target: undefined as TestApp | undefined,
  server: undefined as Server | undefined,
  issuer: '',
};
const startBalancer = async () => {
  const port = await freePort();
  balancer.issuer = `http://localhost:${port}`;
  balancer.server = createServer((req, res) => {
    const upstream = forward(
      {
        host: '127.0.0.1',
        port: balancer.target!.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent: false,
      },
      (answer) => {
        res.writeHead(answer.statusCode!, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => balancer.server!.listen(port, '127.0.0.1', resolve));
};
/** Sends the next requests to `instance`. */
const via = (instance: TestApp) => {
  balancer.target = instance;
};

const passkeySignIns = async (instance: TestApp) => {
  const text = await instance.metrics.registry.getSingleMetricAsString('oneid_signins_total');
  return Number(/oneid_signins_total\{method="passkey",outcome="success"\} (\d+)/.exec(text)?.[1]);
};

// Straight to an instance, past the balancer, naming the issuer's host as the balancer does.
const jwksOf = (instance: TestApp) => instanceJwks(instance, balancer.issuer);

describe.skipIf(!shared)(
  'a cluster of two instances behind a load balancer (runs only with DATABASE_URL and REDIS_URL)',
  () => {
    beforeAll(async () => {
      await startBalancer();
      // One ISSUER (the balancer's URL) and one database for both; each listens on its own port.
      // Instance 2 polls for key changes every second instead of every 30.
      const env = {
        ...FAST_QUEUE,
        ISSUER: balancer.issuer,
        DATABASE_URL: (await ownDatabaseUrl())!,
      };
      first = await startTestApp(env);
      second = await startTestApp(env, { app: { keyReloadSeconds: 1 } });
      via(first);
      citizen = await enrolCitizen(first);
      client = await registerClient(first);
    });
    afterAll(async () => {
      await second?.stop();
      await first?.stop();
      balancer.server?.close();
    });

    /** Authorization request on instance 1; sign-in page, passkey, consent and code on instance 2; code redeemed on 1. */
    const signInAcross = async (config: oidc.Configuration) => {
      const request = await authorizationRequest(config, client.redirectUri);
      const browser = createBrowserSession();
      via(first);
      const started = await browser.request(request.url);
      expect(started.status).toBe(303);
      via(second);
      const { callback, signedIn } = await signInDetailed(
        first,
        browser,
        citizen.authenticator,
        new URL(started.headers.get('location')!, balancer.issuer),
      );
      expect(signedIn).toBe(true);
      via(first);
      const tokens = await oidc.authorizationCodeGrant(config, new URL(callback), {
        pkceCodeVerifier: request.verifier,
        expectedState: request.state,
        expectedNonce: request.nonce,
      });
      return { tokens, browser };
    };

    it('carries a sign-in across instances: authorize on 1, sign in on 2, redeem on 1, refresh on 2', async () => {
      via(first);
      const config = await discover(first, client);
      const [before1, before2] = [await passkeySignIns(first), await passkeySignIns(second)];
      const { tokens, browser } = await signInAcross(config);
      // The passkey was verified by instance 2 (its challenge issued there, the interaction by 1).
      expect(await passkeySignIns(second)).toBe(before2 + 1);
      expect(await passkeySignIns(first)).toBe(before1);

      const sub = tokens.claims()!.sub;
      via(second);
      const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
      expect(refreshed.claims()!.sub).toBe(sub);
      expect((await oidc.fetchUserInfo(config, tokens.access_token, sub)).sub).toBe(sub);
      via(first);
      expect((await oidc.fetchUserInfo(config, refreshed.access_token, sub)).sub).toBe(sub);
      // Rotation is shared: the refresh token used on instance 2 is dead on instance 1 too, and
      // replaying it there revokes the grant, including what instance 2 issued (RFC 9700 4.14.2).
      await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({
        error: 'invalid_grant',
      });
      via(second);
      await expect(oidc.fetchUserInfo(config, refreshed.access_token, sub)).rejects.toThrow();
      await expect(oidc.refreshTokenGrant(config, refreshed.refresh_token!)).rejects.toMatchObject({
        error: 'invalid_grant',
      });
      via(first);

      // Single sign-on: the session created on instance 2 signs the citizen in to another agency
      // system through instance 1 without a new sign-in.
      const other = await registerClient(first);
      const otherConfig = await discover(first, other);
      const request = await authorizationRequest(otherConfig, other.redirectUri);
      const sso = await signInDetailed(first, browser, citizen.authenticator, request.url);
      expect(sso.signedIn).toBe(false);
      await oidc.authorizationCodeGrant(otherConfig, new URL(sso.callback), {
        pkceCodeVerifier: request.verifier,
        expectedState: request.state,
        expectedNonce: request.nonce,
      });
    });

    it('publishes a key rotated on one instance on both before either signs with it, then both switch', async () => {
      via(first);
      const config = await discover(first, client);
      const { tokens } = await signInAcross(config);
      const oldToken = tokens.id_token!;
      const kidOf = (jwt: string) => decodeProtectedHeader(jwt).kid!;

      // Published at once, signing 2 s later (KEY_ACTIVATION_DELAY_SECONDS in production).
      const kids = await first.services.signingKeys.rotate('test', { activateAfterSeconds: 2 });
      const due = Date.now() + 2000;
      await first.reloadKeys(); // or already reloaded: rotation is announced on the change feed
      expect((await jwksOf(first)).keys.map((k) => k.kid)).toEqual(expect.arrayContaining(kids));
      // Instance 2 hears the announcement (or finds the change on its poll, keyReloadSeconds).
      await vi.waitFor(
        async () =>
          expect((await jwksOf(second)).keys.map((k) => k.kid)).toEqual(
            expect.arrayContaining(kids),
          ),
        { timeout: 5000, interval: 200 },
      );
      via(second);
      let refresh = tokens.refresh_token!;
      const early = await oidc.refreshTokenGrant(config, refresh);
      refresh = early.refresh_token!;
      expect(kids).not.toContain(kidOf(early.id_token!));

      // Once due, each instance activates and signs with the new keys on its own poll.
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - Date.now())));
      via(first);
      await first.reloadKeys();
      const fromFirst = await oidc.refreshTokenGrant(config, refresh);
      refresh = fromFirst.refresh_token!;
      expect(kids).toContain(kidOf(fromFirst.id_token!));
      via(second);
      const fromSecond = await vi.waitFor(
        async () => {
          const answer = await oidc.refreshTokenGrant(config, refresh);
          refresh = answer.refresh_token!;
          expect(kids).toContain(kidOf(answer.id_token!));
          return answer;
        },
        { timeout: 5000, interval: 300 },
      );

      for (const jwks of [await jwksOf(first), await jwksOf(second)]) {
        for (const token of [
          oldToken,
          early.id_token!,
          fromFirst.id_token!,
          fromSecond.id_token!,
        ]) {
          const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), {
            issuer: balancer.issuer,
            audience: client.clientId,
          });
          expect(payload.sub).toBe(tokens.claims()!.sub);
        }
      }
    });

    it('logs out on instance 2 a session made on instance 1: every system is told, a refused delivery is retried', async () => {
      via(first);
      const a = await agencyWithReceiver(first, '세금 신고 서비스');
      const b = await agencyWithReceiver(first, 'Passport Office');
      try {
        const browser = createBrowserSession();
        const atA = await signInTo(first, browser, citizen.authenticator, a);
        const atB = await signInTo(first, browser, citizen.authenticator, b);
        b.receiver.failNext(1);

        // RP-initiated logout (id_token_hint), confirmed on instance 2.
        via(second);
        const page = await browser.request(
          `${balancer.issuer}/session/end?${new URLSearchParams({ id_token_hint: atA.idToken, client_id: a.clientId })}`,
        );
        const html = await page.text();
        const action = /id="op\.logoutForm" method="post" action="([^"]+)"/.exec(html)?.[1];
        const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)?.[1];
        expect(action, html.slice(0, 300)).toBeTruthy();
        const done = await browser.request(new URL(action!, balancer.issuer), {
          method: 'POST',
          form: { xsrf: xsrf!, logout: 'yes' },
        });
        expect(done.status).toBe(303);

        await eventually(() =>
          expect([a.receiver.tokens.length, b.receiver.tokens.length]).toEqual([1, 1]),
        );
        for (const [r, got, clientId] of [
          [a.receiver, atA.claims, a.clientId],
          [b.receiver, atB.claims, b.clientId],
        ] as const) {
          expect(r.tokens[0]!.claims).toMatchObject({
            iss: balancer.issuer,
            aud: clientId,
            sub: got.sub,
            sid: got.sid,
          });
          expect(r.rejected).toEqual([]);
        }
        expect(a.receiver.requests()).toBe(1);
        expect(b.receiver.requests()).toBe(2); // refused once (500), accepted on retry
        // The session is gone on both instances.
        for (const instance of [first, second]) {
          via(instance);
          expect(await silentAuthError(first, browser, a)).toBe('login_required');
        }
      } finally {
        via(first);
        await a.receiver.close();
        await b.receiver.close();
      }
    });

    it('verifies on instance 2 a passkey assertion for a challenge issued by instance 1', async () => {
      via(first);
      const config = await discover(first, client);
      const request = await authorizationRequest(config, client.redirectUri);
      const browser = createBrowserSession();
      const { res, url } = await browser.follow(request.url.toString(), balancer.issuer);
      const html = await res.text();
      expect(html).toContain('id="passkey-login"');
      const path = new URL(url).pathname;
      const csrf = csrfFrom(html);
      const options = await (
        await browser.request(`${balancer.issuer}${path}/passkey/options`, {
          method: 'POST',
          json: {},
          headers: { 'x-csrf-token': csrf },
        })
      ).json();
      const [before1, before2] = [await passkeySignIns(first), await passkeySignIns(second)];

      via(second);
      const verify = await browser.request(`${balancer.issuer}${path}/passkey/verify`, {
        method: 'POST',
        json: citizen.authenticator.authenticate(options),
        headers: { 'x-csrf-token': csrf },
      });
      const body = await verify.json();
      expect(verify.status, JSON.stringify(body)).toBe(200);
      expect(await passkeySignIns(second)).toBe(before2 + 1);
      expect(await passkeySignIns(first)).toBe(before1);

      // The challenge was used once: the same assertion on instance 1 is refused.
      via(first);
      const replay = await browser.request(`${balancer.issuer}${path}/passkey/verify`, {
        method: 'POST',
        json: citizen.authenticator.authenticate(options),
        headers: { 'x-csrf-token': csrf },
      });
      expect(replay.status).not.toBe(200);
    });

    it('keeps serving sessions and tokens when an instance stops', async () => {
      via(first);
      const config = await discover(first, client);
      const { tokens } = await signInAcross(config);
      via(second);
      const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
      await second.stop();
      await expect(fetch(`http://localhost:${second.port}/healthz`)).rejects.toThrow();
      // What instance 2 issued lives in Redis: instance 1 goes on with it.
      via(first);
      const again = await oidc.refreshTokenGrant(config, refreshed.refresh_token!);
      expect(again.claims()!.sub).toBe(tokens.claims()!.sub);
      expect((await fetch(`${balancer.issuer}/readyz`)).status).toBe(200);
    });
  },
);
