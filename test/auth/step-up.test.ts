// The assurance rule over real HTTP (docs/security.md, "Assurance for account and admin
// actions"): a citizen signed in through a `low` upstream (a real oidc-provider, linked to an
// account that holds a platform administrator role) cannot add a passkey, open the console or
// use the admin API; a passkey sign-in (`substantial`) can; ADMIN_MIN_ACR=high refuses it too.
// And an essential `acr` in the claims parameter is a step-up like acr_values (no sign-in loop).
import { randomUUID } from 'node:crypto';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPrincipal } from '../../src/admin/index.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { createBrowserSession, csrfFrom, type BrowserSession } from '../support/browser-session.ts';
import {
  authorizationRequest,
  discover,
  enrolCitizen,
  passkeyVerify,
  registerClient,
  signIn,
} from '../support/flows.ts';
import { apiClient, createAdmin, consoleSignIn, unique } from '../admin/support.ts';
import {
  browse,
  registerUpstream,
  retireUpstreams,
  startUpstream,
  upstreamButton,
} from '../federation/support.ts';

const LOW = 'urn:one-id:loa:low';
const SUBSTANTIAL = 'urn:one-id:loa:substantial';
const HIGH = 'urn:one-id:loa:high';

let app: TestApp;
let social: Awaited<ReturnType<typeof startUpstream>>;
let citizen: Awaited<ReturnType<typeof enrolCitizen>>;
const upstreamId = unique('social');

beforeAll(async () => {
  app = await startTestApp();
  social = await startUpstream({
    redirectUri: app.services.federation.redirectUri,
    users: { 'low-admin': { name: 'Low Admin' } },
  });
  await registerUpstream(app, {
    id: upstreamId,
    issuer: social.issuer,
    client_secret: social.clientSecret,
    acr: LOW,
    claims: { name: 'name' },
  });
  citizen = await enrolCitizen(app, { name: '저보증 관리자' });
  await app.services.admin.admins.grant(cliPrincipal(), {
    accountId: citizen.account.id,
    role: 'platform',
    agency: null,
  });
  // Linked earlier (with the passkey): from now on the upstream alone signs this account in, at `low`.
  await app.knex('federated_identities').insert({
    id: randomUUID(),
    upstream_id: upstreamId,
    issuer: social.issuer,
    subject: 'low-admin',
    account_id: citizen.account.id,
    linked_by: 'passkey',
  });
});
afterAll(async () => {
  if (app) await retireUpstreams(app, [upstreamId]);
  await social?.close();
  await app?.stop();
});

/** A browser signed in to One-ID through the `low` upstream (My One-ID's own sign-in). */
const lowSession = async () => {
  const session = createBrowserSession();
  const login = await session.follow(`${app.issuer}/account/login`, app.issuer);
  const action = upstreamButton(await login.res.text(), upstreamId);
  expect(action).toBeTruthy();
  const page = await browse(session, `${app.issuer}${action}`, 'http://nowhere.invalid');
  expect(page.url).toBe(`${app.issuer}/account`);
  return { session, csrf: csrfFrom(page.html) };
};

/** Where a redirect sends the browser, parsed. */
const redirectOf = (res: Response) => new URL(res.headers.get('location') ?? '', app.issuer);

describe('a `low` sign-in never adds a way in or opens the administration', () => {
  it('is sent to step up on /account/security and cannot register a passkey', async () => {
    const { session, csrf } = await lowSession();
    const page = await session.request(`${app.issuer}/account/security`);
    expect(page.status).toBe(302);
    const stepUp = redirectOf(page);
    expect(stepUp.pathname).toBe('/auth');
    expect(stepUp.searchParams.get('acr_values')).toBe(SUBSTANTIAL);
    // The step-up's sign-in page offers the passkey, not the `low` upstream.
    const login = await session.follow(stepUp.href, app.issuer);
    const html = await login.res.text();
    expect(html).toContain('id="passkey-login"');
    expect(upstreamButton(html, upstreamId)).toBeUndefined();

    for (const path of ['passkey/options', 'passkey/verify']) {
      const res = await session.request(`${app.issuer}/account/security/${path}`, {
        method: 'POST',
        json: {},
        headers: { 'x-csrf-token': csrf, accept: 'application/json' },
      });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { code: string }).code).toBe('ERR_SECURITY_SIGN_IN_REQUIRED');
    }
  });

  it('does not open the console: its sign-in asks for substantial and offers no `low` upstream', async () => {
    const { session } = await lowSession();
    const start = await session.request(`${app.issuer}/admin`);
    expect(start.status).toBe(302);
    const auth = redirectOf(start);
    expect(auth.searchParams.get('acr_values')).toBe(SUBSTANTIAL);
    const login = await session.follow(auth.href, app.issuer);
    const html = await login.res.text();
    expect(upstreamButton(html, upstreamId)).toBeUndefined();
    // Going to the upstream anyway is refused; the console stays shut.
    const uid = /\/interaction\/([\w-]+)/.exec(login.url)![1]!;
    const forced = await browse(
      session,
      `${app.issuer}/interaction/${uid}/upstream/${upstreamId}`,
      'http://nowhere.invalid',
    );
    expect(forced.url).not.toBe(`${app.issuer}/admin`);
    expect(forced.res.status).toBeGreaterThanOrEqual(400);
    const after = await session.request(`${app.issuer}/admin`);
    expect(after.status).toBe(302);
    expect(redirectOf(after).pathname).toBe('/auth');
  });

  it('gets an admin API token that the API refuses with an RFC 9470 step-up challenge', async () => {
    const { session } = await lowSession();
    const resource = `${app.issuer}/admin/api`;
    const config = await oidc.discovery(
      new URL(app.issuer),
      'one-id-admin-api',
      undefined,
      oidc.None(),
      { execute: [oidc.allowInsecureRequests] },
    );
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const redirectUri = 'http://127.0.0.1:45123/callback';
    // No prompt: the `low` SSO session signs the script in silently.
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: 'openid admin:read admin:write',
      resource,
      state,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const { url: callback } = await session.follow(url.href, app.issuer);
    expect(callback.startsWith(redirectUri)).toBe(true);
    const tokens = await oidc.authorizationCodeGrant(
      config,
      new URL(callback),
      { pkceCodeVerifier: verifier, expectedState: state },
      { resource },
    );
    expect(tokens.claims()?.acr).toBe(LOW);
    const api = apiClient(app, tokens.access_token);
    for (const [method, path, body] of [
      ['GET', '/me'],
      ['GET', '/clients'],
      ['PUT', '/agencies/step-up-test', { name_en: 'x' }],
    ] as const) {
      const res = await api(method, path, body);
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('ERR_STEP_UP_REQUIRED');
      expect(res.headers.get('www-authenticate')).toContain(
        `error="insufficient_user_authentication"`,
      );
      expect(res.headers.get('www-authenticate')).toContain(`acr_values="${SUBSTANTIAL}"`);
    }
  });

  it('lets a passkey sign-in (substantial) do all three', async () => {
    const admin = await createAdmin(app, 'platform');
    expect((await admin.api('GET', '/me')).status).toBe(200);
    const browser = await consoleSignIn(app, admin);
    expect((await browser.request(`${app.issuer}/admin`)).status).toBe(200);
    const security = await browser.request(`${app.issuer}/account/security`);
    expect(security.status).toBe(200);
    const csrf = csrfFrom(await security.text());
    const options = await browser.request(`${app.issuer}/account/security/passkey/options`, {
      method: 'POST',
      json: {},
      headers: { 'x-csrf-token': csrf },
    });
    expect(options.status).toBe(200);
  });
});

describe('an essential acr claim is a step-up like acr_values', () => {
  it('ends a passkey sign-in asked for `high` with unmet_authentication_requirements, not a loop', async () => {
    const client = await registerClient(app);
    const config = await discover(app, client);
    const browser = createBrowserSession();
    // A passkey session first.
    await signIn(
      app,
      browser,
      citizen.authenticator,
      (await authorizationRequest(config, client.redirectUri)).url,
    );
    for (const acr of [{ value: HIGH }, { values: [HIGH] }]) {
      const request = await authorizationRequest(config, client.redirectUri, {
        claims: JSON.stringify({ id_token: { acr: { essential: true, ...acr } } }),
      });
      const login = await browser.follow(request.url.href, app.issuer);
      const html = await login.res.text();
      // The step-up notice (and, where certificate login is on, the certificate first).
      expect(html).toContain('class="notice" role="note"');
      const path = new URL(login.url).pathname;
      const csrf = csrfFrom(html);
      const verify = await passkeyVerify(
        browser,
        `${app.issuer}${path}`,
        csrf,
        citizen.authenticator,
      );
      const { location } = (await verify.json()) as { location: string };
      const end = await browser.follow(new URL(location, app.issuer).href, app.issuer);
      expect(end.url.startsWith(client.redirectUri)).toBe(true);
      expect(new URL(end.url).searchParams.get('error')).toBe('unmet_authentication_requirements');
    }
  });

  it('is met by a stronger session without a new sign-in (levels are minimums)', async () => {
    const client = await registerClient(app);
    const config = await discover(app, client);
    const browser = createBrowserSession();
    await signIn(
      app,
      browser,
      citizen.authenticator,
      (await authorizationRequest(config, client.redirectUri)).url,
    );
    const request = await authorizationRequest(config, client.redirectUri, {
      claims: JSON.stringify({ id_token: { acr: { essential: true, value: LOW } } }),
    });
    const { url } = await browser.follow(request.url.href, app.issuer);
    expect(url.startsWith(client.redirectUri)).toBe(true);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(url), {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
      expectedNonce: request.nonce,
    });
    expect(tokens.claims()?.acr).toBe(SUBSTANTIAL);
  });
});

describe('ADMIN_MIN_ACR=high', () => {
  let strict: TestApp;
  beforeAll(async () => {
    strict = await startTestApp({ ADMIN_MIN_ACR: 'high' });
  });
  afterAll(async () => strict?.stop());

  it('refuses a passkey administrator in the API and the console', async () => {
    const admin = await createAdmin(strict, 'platform');
    const me = await admin.api('GET', '/me');
    expect(me.status).toBe(401);
    expect(me.headers.get('www-authenticate')).toContain(`acr_values="${HIGH}"`);
    await expect(consoleSignIn(strict, admin)).rejects.toThrow(/expected the login page|ended at/);
    const browser: BrowserSession = createBrowserSession();
    const start = await browser.request(`${strict.issuer}/admin`);
    expect(redirectOf(start).searchParams.get('acr_values')).toBe(HIGH);
  });
});
