// The example agency app (examples/agency-app) driven end to end over HTTP, as a citizen's
// browser would: sign in with a passkey, the consented claims on the page, RP-initiated logout,
// back-channel logout, and the quickstart that wires it all up in one command.
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createAgencyApp, type AgencyApp } from '../../examples/agency-app/app.ts';
import { agencyConfigFromEnv } from '../../examples/agency-app/config.ts';
import { EXAMPLE_CLIENT_ID, runQuickstart } from '../../examples/agency-app/quickstart.ts';
import { freePort, ownDatabaseUrl, type TestApp } from '../support/app.ts';
import { createBrowserSession, csrfFrom, type BrowserSession } from '../support/browser-session.ts';
import { enrolCitizen, registerClient, signIn } from '../support/flows.ts';
import { createSoftAuthenticator, type SoftAuthenticator } from '../support/soft-authenticator.ts';
import { claimsShown, confirmLogout, silentAuthError, startOneId } from './support.ts';

let oneId: TestApp;
let agency: AgencyApp;
let appUrl: string;
let client: Awaited<ReturnType<typeof registerClient>>;
let citizen: Awaited<ReturnType<typeof enrolCitizen>>;
const appLog: string[] = [];

/** Waits (at most `ms`) until the app has logged `line` after position `from`. */
const appLogged = async (line: string, from: number, ms = 8000) => {
  for (
    const started = Date.now();
    Date.now() - started < ms;
    await new Promise((r) => setTimeout(r, 25))
  ) {
    if (appLog.slice(from).includes(line)) return true;
  }
  return false;
};

beforeAll(async () => {
  // Back-channel tokens go to this app on localhost, which the engine's SSRF guard refuses unless
  // One-ID is told it may call it (OUTBOUND_PRIVATE_HOSTS); the queue is polled often in tests.
  oneId = await startOneId({ OUTBOUND_PRIVATE_HOSTS: 'localhost', BACKCHANNEL_POLL_MS: '50' });
  const port = await freePort();
  appUrl = `http://localhost:${port}`;
  client = await registerClient(oneId, {
    client_name: '민원 포털 예제',
    redirect_uris: [`${appUrl}/callback`],
    post_logout_redirect_uris: [`${appUrl}/`],
    backchannel_logout_uri: `${appUrl}/backchannel-logout`,
    backchannel_logout_session_required: true,
  });
  citizen = await enrolCitizen(oneId, {
    name: '홍길동',
    birthdate: '1990-01-01',
    email: 'hong@example.com',
  });
  agency = await createAgencyApp(
    agencyConfigFromEnv({
      ISSUER: oneId.issuer,
      CLIENT_ID: client.clientId,
      CLIENT_SECRET: client.clientSecret,
      PORT: String(port),
      REDIRECT_URI: `${appUrl}/callback`,
    }),
    { log: (line) => appLog.push(line) },
  );
  await agency.listen(port, '127.0.0.1');
});
afterAll(async () => {
  await agency?.close();
  await oneId?.stop();
});

/** Home page -> "Sign in with One-ID" -> One-ID's passkey and consent pages -> back on the app. */
const signInThroughApp = async (
  session: BrowserSession,
  authenticator: SoftAuthenticator,
  origin = appUrl,
  app = oneId,
  consent: 'approve' | 'decline' = 'approve',
) => {
  const login = await session.request(`${origin}/login`);
  expect(login.status).toBe(302);
  const authorizationUrl = new URL(login.headers.get('location')!);
  const callback = await signIn(app, session, authenticator, authorizationUrl, { consent });
  expect(callback.startsWith(`${origin}/callback?`)).toBe(true);
  const back = await session.request(callback);
  if (back.status !== 303) return { authorizationUrl, back, html: await back.text() };
  const home = await session.request(new URL(back.headers.get('location')!, origin));
  return { authorizationUrl, back, html: await home.text() };
};

describe('examples/agency-app with openid-client v6', () => {
  it('signs in with code + PKCE, state and nonce, and shows the consented claims', async () => {
    const session = createBrowserSession();
    const { authorizationUrl, html } = await signInThroughApp(session, citizen.authenticator);
    const params = authorizationUrl.searchParams;
    expect(params.get('code_challenge_method')).toBe('S256');
    expect(params.get('code_challenge')).toMatch(/^[\w-]{43}$/);
    expect(params.get('state')).toBeTruthy();
    expect(params.get('nonce')).toBeTruthy();
    expect(params.get('scope')).toBe('openid profile email');

    const idToken = claimsShown(html, 'id-token-claims');
    expect(idToken).toMatchObject({
      iss: oneId.issuer,
      aud: client.clientId,
      acr: 'urn:one-id:loa:substantial',
    });
    expect(idToken.sub).toBeTruthy();
    expect(idToken.sub).not.toBe(citizen.account.id); // pairwise
    expect(idToken.sid).toBeTruthy(); // backchannel_logout_session_required
    expect(idToken.nonce).toBe(params.get('nonce'));
    const userinfo = claimsShown(html, 'userinfo-claims');
    expect(userinfo).toMatchObject({
      sub: idToken.sub,
      name: '홍길동',
      birthdate: '1990-01-01',
      email: 'hong@example.com',
      email_verified: 'true',
    });
    expect(userinfo.phone_number).toBeUndefined(); // not asked for, not shared
  });

  it('shows access_denied when the citizen declines on the consent page', async () => {
    const other = await enrolCitizen(oneId);
    const { back, html } = await signInThroughApp(
      createBrowserSession(),
      other.authenticator,
      appUrl,
      oneId,
      'decline',
    );
    expect(back.status).toBe(403);
    expect(html).toContain('access_denied');
  });

  it('signs out with RP-initiated logout and comes back to the app', async () => {
    const session = createBrowserSession();
    const { html } = await signInThroughApp(session, citizen.authenticator);
    const logout = await session.request(`${appUrl}/logout`, {
      method: 'POST',
      form: { _csrf: /name="_csrf" value="([^"]+)"/.exec(html)![1]! },
    });
    expect(logout.status).toBe(303);
    const endSession = new URL(logout.headers.get('location')!);
    expect(endSession.origin + endSession.pathname).toBe(`${oneId.issuer}/session/end`);
    expect(endSession.searchParams.get('id_token_hint')).toBeTruthy();
    expect(endSession.searchParams.get('post_logout_redirect_uri')).toBe(`${appUrl}/`);
    const back = await confirmLogout(oneId, session, endSession);
    expect(back.origin + back.pathname).toBe(`${appUrl}/`);
    expect(back.searchParams.get('state')).toBe(endSession.searchParams.get('state'));
    const home = await (await session.request(back)).text();
    expect(home).toContain('id="notice"');
    expect(home).toContain('id="login"');
    // One-ID's own session is gone too: a silent request now needs a sign-in.
    expect(
      await silentAuthError(oneId, session, {
        clientId: client.clientId,
        redirectUri: `${appUrl}/callback`,
      }),
    ).toBe('login_required');
  });

  it('refuses a logout form without its CSRF token', async () => {
    const session = createBrowserSession();
    await signInThroughApp(session, citizen.authenticator);
    expect((await session.request(`${appUrl}/logout`, { method: 'POST', form: {} })).status).toBe(
      403,
    );
    expect(await (await session.request(`${appUrl}/`)).text()).toContain('id="signed-in"');
  });

  it('ends the app session when One-ID sends a back-channel logout token', async () => {
    const session = createBrowserSession();
    await signInThroughApp(session, citizen.authenticator);
    // The citizen signs out at One-ID itself (not through the app): One-ID tells the app.
    const before = appLog.length;
    const back = await confirmLogout(oneId, session, `${oneId.issuer}/session/end`);
    expect(back.pathname).toBe('/session/end/success');
    expect(await appLogged('back-channel logout: ended 1 session(s)', before)).toBe(true);
    const home = await (await session.request(`${appUrl}/`)).text();
    expect(home).toContain('id="login"');
    expect(home).not.toContain('id="signed-in"');
  });

  it('answers 400 to a back-channel request without a valid logout token', async () => {
    const post = (body: string) =>
      fetch(`${appUrl}/backchannel-logout`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body,
      });
    const missing = await post('');
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ error: 'invalid_request' });
    const garbage = await post('logout_token=not.a.jwt');
    expect(garbage.status).toBe(400);
    expect(garbage.headers.get('cache-control')).toBe('no-store');
  });
});

describe('examples/agency-app/quickstart.ts', () => {
  it('starts One-ID, registers the example client, enrols a citizen and serves the app', async () => {
    const secrets = inject('secrets');
    const databaseUrl = await ownDatabaseUrl();
    const dataDir = mkdtempSync(join(tmpdir(), 'oneid-quickstart-'));
    const template = inject('pgliteTemplate');
    if (template && !databaseUrl)
      cpSync(join(template, 'pglite'), join(dataDir, 'pglite'), { recursive: true });
    const [oneIdPort, appPort] = [await freePort(), await freePort()];
    const printed: string[] = [];
    const running = await runQuickstart({
      env: {
        ONEID_PORT: String(oneIdPort),
        APP_PORT: String(appPort),
        DATA_DIR: dataDir,
        COOKIE_KEYS: secrets.cookieKey,
        KEY_ENCRYPTION_KEYS: secrets.keyEncryptionKey,
        PAIRWISE_SALT: secrets.pairwiseSalt,
        LOG_LEVEL: 'silent',
        ...(databaseUrl && { DATABASE_URL: databaseUrl }),
        ...(inject('redisUrl') && { REDIS_URL: inject('redisUrl')! }),
      },
      print: (line) => printed.push(line),
    });
    try {
      const output = printed.join('\n');
      expect(output).toContain(`Registered the agency system "${EXAMPLE_CLIENT_ID}"`);
      expect(output).toContain(`http://localhost:${appPort}`);
      expect(output).toContain(running.enrolmentUrl);
      const client = await running.oneId.services.clients.find(EXAMPLE_CLIENT_ID);
      expect(client?.metadata).toMatchObject({
        token_endpoint_auth_method: 'private_key_jwt',
        backchannel_logout_uri: `http://localhost:${appPort}/backchannel-logout`,
      });

      // The citizen opens the printed link and creates a passkey.
      const issuer = `http://localhost:${oneIdPort}`;
      const authenticator = createSoftAuthenticator({ origin: issuer });
      const browser = createBrowserSession();
      const page = await browser.request(running.enrolmentUrl);
      const csrf = csrfFrom(await page.text());
      const path = new URL(running.enrolmentUrl).pathname;
      const options = await (
        await browser.request(`${issuer}${path}/options`, {
          method: 'POST',
          json: {},
          headers: { 'x-csrf-token': csrf },
        })
      ).json();
      expect(
        (
          await browser.request(`${issuer}${path}/verify`, {
            method: 'POST',
            json: authenticator.register(options),
            headers: { 'x-csrf-token': csrf },
          })
        ).status,
      ).toBe(200);

      // Then signs in to the app with it (the app authenticates with private_key_jwt).
      const oneIdApp = Object.assign(running.oneId, {
        issuer,
        port: oneIdPort,
        dataDir,
        env: {},
        stop: running.stop,
      });
      const { html } = await signInThroughApp(
        browser,
        authenticator,
        `http://localhost:${appPort}`,
        oneIdApp,
      );
      expect(claimsShown(html, 'userinfo-claims')).toMatchObject({
        name: '홍길동',
        birthdate: '1990-01-01',
      });
    } finally {
      await running.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
