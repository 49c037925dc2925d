// Bad input gets the right OAuth error or a readable page: never a 500, never a stack trace.
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
import { createSoftAuthenticator } from '../support/soft-authenticator.ts';

let app: TestApp;
let citizen: Awaited<ReturnType<typeof enrolCitizen>>;
let client: Awaited<ReturnType<typeof registerClient>>;
let config: oidc.Configuration;

beforeAll(async () => {
  app = await startTestApp();
  citizen = await enrolCitizen(app);
  client = await registerClient(app);
  config = await discover(app, client);
});
afterAll(() => app?.stop());

const expectReadablePage = async (res: Response, status: number, text: RegExp) => {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/text\/html/);
  const html = await res.text();
  expect(html).toMatch(text);
  expect(html).not.toMatch(/at .*\.(ts|js):\d+|Error: /);
  return html;
};

/** Starts an interaction and returns the login page's URL, CSRF token and session. */
const openLogin = async () => {
  const session = createBrowserSession();
  const request = await authorizationRequest(config, client.redirectUri);
  const { res, url } = await session.follow(request.url.toString(), app.issuer);
  const csrf = csrfFrom(await res.text());
  return { session, url, csrf, path: new URL(url).pathname, request };
};

describe('authorization endpoint', () => {
  it('refuses an unknown client with a readable page', async () => {
    const url = new URL('/auth', app.issuer);
    url.search = new URLSearchParams({
      client_id: 'no-such-client',
      response_type: 'code',
      scope: 'openid',
      redirect_uri: 'http://localhost:4999/cb',
      code_challenge: 'x'.repeat(43),
      code_challenge_method: 'S256',
    }).toString();
    await expectReadablePage(await fetch(url, { redirect: 'manual' }), 400, /invalid_client/);
  });

  it('refuses a redirect URI that is not registered exactly', async () => {
    for (const redirectUri of [
      `${client.redirectUri}/`,
      `${client.redirectUri}?x=1`,
      client.redirectUri.replace('localhost', '127.0.0.1'),
      client.redirectUri.toUpperCase(),
    ]) {
      const request = await authorizationRequest(config, redirectUri);
      await expectReadablePage(
        await fetch(request.url, { redirect: 'manual' }),
        400,
        /invalid_redirect_uri|redirect_uri/,
      );
    }
  });

  it('requires PKCE with S256', async () => {
    const missing = await authorizationRequest(config, client.redirectUri);
    missing.url.searchParams.delete('code_challenge');
    missing.url.searchParams.delete('code_challenge_method');
    const plain = await authorizationRequest(config, client.redirectUri, {
      code_challenge_method: 'plain',
    });
    for (const url of [missing.url, plain.url]) {
      const res = await fetch(url, { redirect: 'manual' });
      expect(res.status).toBe(303);
      const location = new URL(res.headers.get('location')!);
      expect(location.origin + location.pathname).toBe(client.redirectUri);
      expect(location.searchParams.get('error')).toBe('invalid_request');
    }
  });

  it('refuses implicit and hybrid response types', async () => {
    for (const responseType of ['token', 'id_token', 'code id_token']) {
      const request = await authorizationRequest(config, client.redirectUri, {
        response_type: responseType,
      });
      const res = await fetch(request.url, { redirect: 'manual' });
      expect(res.status).toBeLessThan(500);
      const location = res.headers.get('location');
      const error = location
        ? (new URL(location).searchParams.get('error') ??
          new URLSearchParams(new URL(location).hash.slice(1)).get('error'))
        : (await res.text()).match(/unsupported_response_type|invalid_request/)?.[0];
      expect(error).toMatch(/unsupported_response_type|invalid_request/);
    }
  });
});

describe('token endpoint', () => {
  it('refuses a replayed authorization code and revokes what it issued', async () => {
    const request = await authorizationRequest(config, client.redirectUri);
    const callback = new URL(
      await signIn(app, createBrowserSession(), citizen.authenticator, request.url),
    );
    const checks = {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
      expectedNonce: request.nonce,
    };
    const tokens = await oidc.authorizationCodeGrant(config, callback, checks);
    await expect(oidc.authorizationCodeGrant(config, callback, checks)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
    // RFC 6749 4.1.2: a reused code should revoke the tokens it produced.
    expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(false);
  });

  it('refuses a wrong PKCE verifier', async () => {
    const request = await authorizationRequest(config, client.redirectUri);
    const callback = new URL(
      await signIn(app, createBrowserSession(), citizen.authenticator, request.url),
    );
    await expect(
      oidc.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: oidc.randomPKCECodeVerifier(),
        expectedState: request.state,
        expectedNonce: request.nonce,
      }),
    ).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('refuses a wrong client secret with invalid_client', async () => {
    const wrong = await oidc.discovery(
      new URL(app.issuer),
      client.clientId,
      'not-the-secret',
      undefined,
      { execute: [oidc.allowInsecureRequests] },
    );
    await expect(oidc.refreshTokenGrant(wrong, 'whatever')).rejects.toMatchObject({
      error: 'invalid_client',
    });
  });
});

describe('passkey ceremonies', () => {
  it('refuses a replayed WebAuthn challenge', async () => {
    const first = await openLogin();
    const options = await (
      await first.session.request(`${app.issuer}${first.path}/passkey/options`, {
        method: 'POST',
        json: {},
        headers: { 'x-csrf-token': first.csrf },
      })
    ).json();
    const assertion = citizen.authenticator.authenticate(options);
    const ok = await first.session.request(`${app.issuer}${first.path}/passkey/verify`, {
      method: 'POST',
      json: assertion,
      headers: { 'x-csrf-token': first.csrf },
    });
    expect(ok.status).toBe(200);
    // Same assertion again: its challenge was single-use.
    const again = await openLogin();
    await again.session.request(`${app.issuer}${again.path}/passkey/options`, {
      method: 'POST',
      json: {},
      headers: { 'x-csrf-token': again.csrf },
    });
    const replay = await again.session.request(`${app.issuer}${again.path}/passkey/verify`, {
      method: 'POST',
      json: assertion,
      headers: { 'x-csrf-token': again.csrf },
    });
    expect(replay.status).toBe(400);
    expect(await replay.json()).toMatchObject({ code: 'ERR_PASSKEY_VERIFICATION_FAILED' });
    // And with no challenge outstanding at all.
    const none = await again.session.request(`${app.issuer}${again.path}/passkey/verify`, {
      method: 'POST',
      json: assertion,
      headers: { 'x-csrf-token': again.csrf },
    });
    expect(none.status).toBe(400);
  });

  it('refuses an assertion signed by another credential', async () => {
    const intruder = await enrolCitizen(app);
    const login = await openLogin();
    const options = await (
      await login.session.request(`${app.issuer}${login.path}/passkey/options`, {
        method: 'POST',
        json: {},
        headers: { 'x-csrf-token': login.csrf },
      })
    ).json();
    const forged = intruder.authenticator.authenticate(options);
    const victimId = citizen.authenticator.credentials[0]!.id.toString('base64url');
    const res = await login.session.request(`${app.issuer}${login.path}/passkey/verify`, {
      method: 'POST',
      json: { ...forged, id: victimId, rawId: victimId },
      headers: { 'x-csrf-token': login.csrf },
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: 'ERR_PASSKEY_VERIFICATION_FAILED' });
  });

  it('refuses an unknown credential and garbage assertions without a 500', async () => {
    const login = await openLogin();
    const stranger = createSoftAuthenticator({ origin: app.issuer });
    stranger.register({ challenge: 'x', rp: { id: 'localhost' }, user: { id: 'dXNlcg' } });
    for (const body of [{}, { id: 42 }, { id: 'abc', response: 'nope' }, null]) {
      const options = await (
        await login.session.request(`${app.issuer}${login.path}/passkey/options`, {
          method: 'POST',
          json: {},
          headers: { 'x-csrf-token': login.csrf },
        })
      ).json();
      const payload = body === null ? stranger.authenticate(options) : body;
      const res = await login.session.request(`${app.issuer}${login.path}/passkey/verify`, {
        method: 'POST',
        json: payload,
        headers: { 'x-csrf-token': login.csrf },
      });
      expect(res.status).toBe(400);
    }
    const broken = await login.session.request(`${app.issuer}${login.path}/passkey/verify`, {
      method: 'POST',
      body: '{not json',
      headers: { 'x-csrf-token': login.csrf, 'content-type': 'application/json' },
    });
    expect(broken.status).toBe(400);
  });

  it('refuses a request without the CSRF token', async () => {
    const login = await openLogin();
    const res = await login.session.request(`${app.issuer}${login.path}/passkey/options`, {
      method: 'POST',
      json: {},
    });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ code: 'ERR_CSRF' });
  });

  it('gives decoy credentials for an unknown identifier (no account enumeration)', async () => {
    const login = await openLogin();
    const ask = async (identifier: string) =>
      (
        await (
          await login.session.request(`${app.issuer}${login.path}/passkey/options`, {
            method: 'POST',
            json: { identifier },
            headers: { 'x-csrf-token': login.csrf },
          })
        ).json()
      ).allowCredentials;
    const unknown = await ask('nobody@example.com');
    expect(unknown).toHaveLength(1);
    expect(await ask('nobody@example.com')).toEqual(unknown);
  });
});

describe('interaction and enrolment pages', () => {
  it('shows a readable page for an unknown interaction', async () => {
    await expectReadablePage(
      await fetch(`${app.issuer}/interaction/does-not-exist`),
      400,
      /One-ID/,
    );
  });

  it('shows a readable page for unknown, used and expired enrolment links', async () => {
    await expectReadablePage(
      await fetch(`${app.issuer}/enrol/${'x'.repeat(43)}`),
      404,
      /등록 링크가 올바르지 않습니다/,
    );
    await expectReadablePage(
      await fetch(`${app.issuer}${new URL(citizen.enrolmentUrl).pathname}`),
      410,
      /이미 사용된 등록 링크/,
    );
    const { url, account } = await app.services.accounts.enrolCitizen(
      { name: '이영희', birthdate: '2000-12-31' },
      'test',
    );
    await app
      .knex('enrolment_links')
      .where({ account_id: account.id })
      .update({ expires_at: new Date(Date.now() - 1000) });
    await expectReadablePage(await fetch(url), 410, /유효 기간이 지났습니다/);
    await expectReadablePage(await fetch(`${url}?lang=en`), 410, /has expired/);
  });

  it('answers 404 pages for unknown paths of ours and JSON for the engine', async () => {
    const res = await fetch(`${app.issuer}/no/such/page`);
    expect(res.status).toBe(404);
  });
});
