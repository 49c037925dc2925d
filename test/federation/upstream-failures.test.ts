// What One-ID refuses from an upstream, and what keeps working when one is down: ID tokens
// with a bad signature, the wrong audience or nonce, or expired (from a stub upstream that signs
// them with jose), a callback replayed or carried to another browser, and upstreams that refuse
// connections or never answer (FEDERATION_TIMEOUT_MS).
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { createBrowserSession } from '../support/browser-session.ts';
import {
  authorizationRequest,
  discover,
  enrolCitizen,
  registerClient,
  signIn,
} from '../support/flows.ts';
import {
  browse,
  closedUrl,
  registerUpstream,
  retireUpstreams,
  startHangingServer,
  startStubUpstream,
  type StubMode,
  upstreamButton,
} from './support.ts';

let app: TestApp;
let stub: Awaited<ReturnType<typeof startStubUpstream>>;
let hanging: Awaited<ReturnType<typeof startHangingServer>>;
let client: Awaited<ReturnType<typeof registerClient>>;
let config: oidc.Configuration;
let citizen: Awaited<ReturnType<typeof enrolCitizen>>;

beforeAll(async () => {
  app = await startTestApp({ FEDERATION_TIMEOUT_MS: '1000' });
  [stub, hanging, client, citizen] = await Promise.all([
    startStubUpstream(),
    startHangingServer(),
    registerClient(app),
    enrolCitizen(app),
  ]);
  await registerUpstream(app, {
    id: 'stub',
    issuer: stub.issuer,
    client_secret: 'stub-secret',
    acr: 'urn:one-id:loa:substantial',
    display_name: { ko: '시험 제공자', en: 'Stub provider' },
  });
  await registerUpstream(app, {
    id: 'down',
    issuer: await closedUrl(),
    client_secret: 's',
    acr: 'urn:one-id:loa:substantial',
    display_name: { ko: '중단된 제공자', en: 'Down provider' },
  });
  await registerUpstream(app, {
    id: 'slow',
    issuer: hanging.url,
    client_secret: 's',
    acr: 'urn:one-id:loa:substantial',
    display_name: { ko: '응답 없는 제공자', en: 'Silent provider' },
  });
  config = await discover(app, client);
});
afterAll(async () => {
  if (app) await retireUpstreams(app, ['stub', 'down', 'slow']);
  await Promise.all([stub?.close(), hanging?.close()]);
  await app?.stop();
});

/** An agency's sign-in up to the login page: the session, its interaction and the page. */
const loginPage = async () => {
  const session = createBrowserSession();
  const request = await authorizationRequest(config, client.redirectUri);
  const { res, url } = await session.follow(request.url.href, app.issuer);
  return {
    session,
    request,
    url,
    uid: /\/interaction\/([\w-]+)/.exec(url)![1]!,
    html: await res.text(),
    status: res.status,
  };
};

const rejections = async () =>
  (
    await app
      .knex('audit_events')
      .where({ action: 'auth.federation.rejected' })
      .whereRaw("details->>'upstream' = 'stub'")
      .orderBy('id')
  ).map((r) => r.details as { upstream: string; kind: string; reason: string });

describe('ID tokens an upstream must not get away with', () => {
  const cases: [StubMode, RegExp][] = [
    ['bad-signature', /signature/i],
    ['wrong-audience', /"aud"/],
    ['wrong-nonce', /"nonce"/],
    ['expired', /"exp"/],
  ];
  it.each(cases)('refuses an ID token with %s', async (mode, reason) => {
    stub.state.mode = mode;
    const before = stub.state.tokenRequests;
    const login = await loginPage();
    const page = await browse(
      login.session,
      `${app.issuer}${upstreamButton(login.html, 'stub')}`,
      client.redirectUri,
    );
    // The code was redeemed: the refusal is about the ID token itself.
    expect(stub.state.tokenRequests).toBe(before + 1);
    expect(page.res.status).toBe(400);
    expect(page.html).toContain('ERR_UPSTREAM_REJECTED');
    expect((await rejections()).at(-1)).toMatchObject({
      upstream: 'stub',
      kind: 'rejected',
      reason: expect.stringMatching(reason),
    });
    expect(
      await app.knex('federated_identities').where({ upstream_id: 'stub' }).first(),
    ).toBeUndefined();
    // The sign-in is still open: back to it, every other method still there.
    expect(page.html).toContain(`href="/interaction/${login.uid}"`);
    const back = await login.session.request(`${app.issuer}/interaction/${login.uid}`);
    expect(back.status).toBe(200);
    expect(await back.text()).toContain('id="passkey-login"');
  });

  it("accepts the same stub's good token, once, and only in the browser that started the sign-in", async () => {
    stub.state.mode = 'good';
    const login = await loginPage();
    const callback = await browse(
      login.session,
      `${app.issuer}${upstreamButton(login.html, 'stub')}`,
      `${app.issuer}/federation/callback`,
    );
    expect(callback.url.startsWith(`${app.issuer}/federation/callback?`)).toBe(true);
    // Another browser carrying the callback gets nowhere (the state is bound to this interaction), and uses nothing up.
    const other = await browse(createBrowserSession(), callback.url, client.redirectUri);
    expect(other.res.status).toBe(400);
    const page = await browse(login.session, callback.url, client.redirectUri);
    expect(page.res.status).toBe(200);
    // The stub checked PKCE by hand: S256 challenge sent, and the matching verifier at its token endpoint.
    expect(stub.state.pkce).toEqual({ method: 'S256', verified: true });
    expect(page.url).toBe(`${app.issuer}/interaction/${login.uid}/federation/link`);
    // Single use: the same answer again is refused.
    const replay = await browse(login.session, callback.url, client.redirectUri);
    expect(replay.res.status).toBe(400);
  });
});

describe('changing an upstream', () => {
  it('keeps the sealed secret when an update omits it, and audits the change without it', async () => {
    const before = await app.knex('upstream_providers').where({ id: 'stub' }).first();
    const updated = await app.services.federation.upstreams.update(
      'stub',
      {
        issuer: stub.issuer,
        client_id: 'one-id',
        acr: 'urn:one-id:loa:substantial',
        display_name: { ko: '시험 제공자 2', en: 'Stub provider 2' },
      },
      'test',
    );
    expect(updated).toMatchObject({
      id: 'stub',
      hasClientSecret: true,
      displayName: { en: 'Stub provider 2' },
    });
    expect(
      (await app.knex('upstream_providers').where({ id: 'stub' }).first()).client_secret_sealed,
    ).toBe(before.client_secret_sealed);
    const audit = await app
      .knex('audit_events')
      .where({ action: 'federation.upstream.updated', subject: 'upstream:stub' })
      .first();
    expect(audit.details).toMatchObject({
      secretChanged: false,
      after: { displayName: { en: 'Stub provider 2' } },
    });
    expect(JSON.stringify(audit.details)).not.toContain('stub-secret');
    await expect(
      app.services.federation.upstreams.update(
        'stub',
        {
          issuer: 'http://example.com',
          client_id: 'x',
          acr: 'urn:one-id:loa:high',
          display_name: { ko: 'x', en: 'x' },
        },
        'test',
      ),
    ).rejects.toMatchObject({ code: 'ERR_INVALID_UPSTREAM' });
  });
});

describe('an upstream that is down', () => {
  it('gives a readable error, and the login page and passkey sign-in keep working', async () => {
    const login = await loginPage();
    expect(login.status).toBe(200);
    for (const id of ['stub', 'down', 'slow']) expect(upstreamButton(login.html, id)).toBeTruthy();

    let started = Date.now();
    const refused = await browse(
      login.session,
      `${app.issuer}${upstreamButton(login.html, 'down')}`,
      client.redirectUri,
    );
    expect(refused.res.status).toBe(502);
    expect(refused.html).toContain('ERR_UPSTREAM_UNAVAILABLE');
    expect(refused.html).toContain('다른 방법으로 로그인');
    expect(Date.now() - started).toBeLessThan(3000);

    // One that never answers is given FEDERATION_TIMEOUT_MS (1 s here), not the citizen's patience.
    started = Date.now();
    const silent = await browse(
      login.session,
      `${app.issuer}${upstreamButton(login.html, 'slow')}`,
      client.redirectUri,
    );
    expect(silent.res.status).toBe(502);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(Date.now() - started).toBeLessThan(5000);

    // The same sign-in, continued with a passkey.
    const callback = await signIn(app, login.session, citizen.authenticator, new URL(login.url));
    const tokens = await oidc.authorizationCodeGrant(config, new URL(callback), {
      pkceCodeVerifier: login.request.verifier,
      expectedState: login.request.state,
      expectedNonce: login.request.nonce,
    });
    expect(tokens.claims()).toMatchObject({
      acr: 'urn:one-id:loa:substantial',
      amr: ['hwk', 'user'],
    });
  });

  it('answers a callback it never started with a readable page', async () => {
    const res = await createBrowserSession().request(
      `${app.issuer}/federation/callback?code=x&state=${'a'.repeat(32)}`,
    );
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('id="message-body"');
  });
});
