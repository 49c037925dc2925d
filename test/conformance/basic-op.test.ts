// OpenID Foundation "Basic OP" certification profile, the checks that can run here, each named
// after the conformance test it mirrors (old OP-* name; the current suite's oidcc-* name is in
// docs/conformance.md). Authorization code flow only: implicit and hybrid are off on purpose.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../support/app.ts';
import { createBrowserSession, type BrowserSession } from '../support/browser-session.ts';
import {
  DEFAULT_ALLOWANCES,
  enrolCitizen,
  registerClient,
  signInDetailed,
  type SignInOptions,
} from '../support/flows.ts';
import { startOneId } from '../interop/support.ts';
import { createRp, landing, sleep, type Rp } from './support.ts';

const purpose = { ko: '민원 처리', en: 'Handling your application' };
const ALLOWANCES = [
  ...DEFAULT_ALLOWANCES,
  ...['gender', 'address'].map((claim) => ({ claim, purpose, required: true, retention_days: 30 })),
];
const ADDRESS = {
  formatted: '서울특별시 종로구 세종대로 209',
  street_address: '세종대로 209',
  locality: '종로구',
  region: '서울특별시',
  postal_code: '03171',
  country: 'KR',
};

let app: TestApp;
let citizen: Awaited<ReturnType<typeof enrolCitizen>>;
let rp: Rp;
/** The citizen's browser, signed in once and reused where a check needs an existing session. */
let session: BrowserSession;
let last: { idToken: string; authTime: number; sub: string };

beforeAll(async () => {
  app = await startOneId();
  citizen = await enrolCitizen(app, {
    name: '박민수',
    birthdate: '1980-12-31',
    email: 'park@example.com',
    phone: '010-9876-5432',
  });
  // Enrolment does not capture these yet; the account columns exist (OIDC Core 5.1).
  await app
    .knex('accounts')
    .where({ id: citizen.account.id })
    .update({ gender: 'male', address: JSON.stringify(ADDRESS) });
  // The Basic OP plan reads `address` with a plain client; the default catalogue marks it
  // sensitive, which needs fapi2 (docs/fapi.md). This deployment's catalogue says medium.
  const address = (await app.services.catalogue.list()).find((i) => i.name === 'address')!;
  await app.services.catalogue.put({ ...address, sensitivity: 'medium' }, 'test');
  rp = await createRp(app, { allowed_claims: ALLOWANCES });
  session = createBrowserSession();
});
afterAll(() => app?.stop());

/** An authorization request through One-ID's pages in `browser`, then the token endpoint. */
const codeFlow = async (
  params: Record<string, string | undefined> = {},
  options: SignInOptions & { browser?: BrowserSession; client?: Rp } = {},
) => {
  const client = options.client ?? rp;
  const request = client.request(params);
  const result = await signInDetailed(
    app,
    options.browser ?? session,
    citizen.authenticator,
    request.url,
    options,
  );
  const callback = new URL(result.callback);
  const tokens = await client.tokens(callback, request.verifier);
  const { header, claims } = await client.idToken(tokens.id_token);
  if ((options.browser ?? session) === session)
    last = {
      idToken: tokens.id_token,
      authTime: Number(claims.auth_time),
      sub: String(claims.sub),
    };
  return { ...result, request, callback, tokens, header, claims };
};

describe('Basic OP: responses and the ID token', () => {
  it('OP-Response-code: response_type=code returns a code (and state, iss), never tokens', async () => {
    const { callback, request, claims, signedIn } = await codeFlow({ nonce: 'n-0' });
    expect(signedIn).toBe(true);
    expect(callback.searchParams.get('code')).toBeTruthy();
    expect(callback.searchParams.get('state')).toBe(request.state);
    expect(callback.searchParams.get('iss')).toBe(app.issuer); // RFC 9207
    for (const leaked of ['access_token', 'id_token', 'token_type'])
      expect(callback.searchParams.has(leaked)).toBe(false);
    expect(callback.hash).toBe('');
    expect(claims.sub).not.toBe(citizen.account.id);
  });

  it('OP-Response-Missing: a request without response_type is answered with invalid_request', async () => {
    const request = rp.request({ response_type: undefined });
    const { url, atOneId } = await landing(app, createBrowserSession(), request.url);
    expect(atOneId).toBe(false);
    expect(url.searchParams.get('error')).toBe('invalid_request');
    expect(url.searchParams.get('state')).toBe(request.state);
  });

  it.each(['ES256', 'RS256'] as const)(
    'OP-IDToken-Signature: the ID token is signed with %s, as the client metadata asks',
    async (alg) => {
      const client =
        alg === 'ES256'
          ? rp
          : await createRp(app, {
              id_token_signed_response_alg: 'RS256',
              allowed_claims: ALLOWANCES,
            });
      const { header } = await codeFlow({}, { client });
      expect(header.alg).toBe(alg); // and jose verified the signature against jwks_uri
    },
  );

  it('OP-IDToken-kid: the ID token header names its key, and the JWKS publishes it', async () => {
    const { header } = await codeFlow();
    const jwks = (await (await fetch(rp.meta.jwks_uri)).json()) as {
      keys: { kid: string; alg: string }[];
    };
    expect(header.kid).toBeTruthy();
    expect(jwks.keys.find((k) => k.kid === header.kid)?.alg).toBe(header.alg);
  });

  it('OP-IDToken-none: not offered — registration refuses id_token_signed_response_alg "none"', async () => {
    await expect(registerClient(app, { id_token_signed_response_alg: 'none' })).rejects.toThrow(
      /id_token_signed_response_alg/,
    );
  });
});

describe('Basic OP: nonce', () => {
  it('OP-nonce-NoReq-code: nonce is optional in the code flow', async () => {
    const { claims } = await codeFlow({ nonce: undefined });
    expect(claims.nonce).toBeUndefined();
  });

  it('OP-nonce-code: the nonce sent comes back in the ID token', async () => {
    const { claims } = await codeFlow({ nonce: 'nonce-4f7a' });
    expect(claims.nonce).toBe('nonce-4f7a');
  });
});

describe('Basic OP: userinfo', () => {
  const flowWithProfile = () => codeFlow({ scope: 'openid profile' });

  it('OP-UserInfo-Endpoint: GET with the bearer token in the Authorization header', async () => {
    const { tokens, claims } = await flowWithProfile();
    const { status, body } = await rp.userinfo(tokens.access_token, 'get-header');
    expect(status).toBe(200);
    expect(body).toMatchObject({ sub: claims.sub, name: '박민수' });
    const anonymous = await fetch(rp.meta.userinfo_endpoint);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer /);
  });

  it('OP-UserInfo-Header: POST with the bearer token in the Authorization header', async () => {
    const { tokens, claims } = await flowWithProfile();
    expect(await rp.userinfo(tokens.access_token, 'post-header')).toMatchObject({
      status: 200,
      body: { sub: claims.sub, name: '박민수' },
    });
  });

  it('OP-UserInfo-Body: POST with access_token in the form body', async () => {
    const { tokens, claims } = await flowWithProfile();
    expect(await rp.userinfo(tokens.access_token, 'post-body')).toMatchObject({
      status: 200,
      body: { sub: claims.sub, name: '박민수' },
    });
  });

  it('RFC 6750 2.3: an access token in the query string is refused', async () => {
    const { tokens } = await flowWithProfile();
    expect(await rp.userinfo(tokens.access_token, 'get-query')).toMatchObject({
      status: 400,
      body: { error: 'invalid_request' },
    });
  });
});

describe('Basic OP: scopes (the claims come from userinfo)', () => {
  const userinfoFor = async (scope: string) => {
    const { tokens, claims } = await codeFlow({ scope });
    const { body } = await rp.userinfo(tokens.access_token);
    return { userinfo: body, idToken: claims };
  };

  it('OP-scope-profile: name, birthdate, gender', async () => {
    const { userinfo, idToken } = await userinfoFor('openid profile');
    expect(userinfo).toMatchObject({ name: '박민수', birthdate: '1980-12-31', gender: 'male' });
    expect(userinfo.email).toBeUndefined();
    // OIDC Core 5.4: with an access token issued, scope claims are released at userinfo.
    expect(idToken.name).toBeUndefined();
  });

  it('OP-scope-email: email, email_verified', async () => {
    const { userinfo } = await userinfoFor('openid email');
    expect(userinfo).toMatchObject({ email: 'park@example.com', email_verified: true });
    expect(userinfo.name).toBeUndefined();
  });

  it('OP-scope-address: address', async () => {
    const { userinfo } = await userinfoFor('openid address');
    expect(userinfo.address).toEqual(ADDRESS);
  });

  it('OP-scope-phone: phone_number, phone_number_verified', async () => {
    const { userinfo } = await userinfoFor('openid phone');
    expect(userinfo).toMatchObject({ phone_number: '01098765432', phone_number_verified: true });
  });

  it('OP-scope-All: every standard scope at once', async () => {
    const { userinfo } = await userinfoFor('openid profile email address phone');
    expect(Object.keys(userinfo).sort()).toEqual([
      'address',
      'birthdate',
      'email',
      'email_verified',
      'gender',
      'name',
      'phone_number',
      'phone_number_verified',
      'sub',
    ]);
  });

  it('oidcc-ensure-other-scope-order-succeeds: "email openid" works like "openid email"', async () => {
    const { userinfo } = await userinfoFor('email openid');
    expect(userinfo.email).toBe('park@example.com');
  });
});

describe('Basic OP: display and prompt', () => {
  it.each(['page', 'popup'])(
    'OP-display-%s: the sign-in page is shown and the flow completes',
    async (display) => {
      const browser = createBrowserSession();
      const request = rp.request({ display });
      const page = await landing(app, browser, request.url);
      expect(page.atOneId).toBe(true);
      expect(page.html).toContain('id="passkey-login"');
      const { signedIn } = await codeFlow({ display }, { browser });
      expect(signedIn).toBe(true);
    },
  );

  it('OP-prompt-none-NotLoggedIn: prompt=none without a session gives login_required', async () => {
    const request = rp.request({ prompt: 'none' });
    const { url, atOneId } = await landing(app, createBrowserSession(), request.url);
    expect(atOneId).toBe(false);
    expect(url.searchParams.get('error')).toBe('login_required');
    expect(url.searchParams.get('state')).toBe(request.state);
  });

  it('OP-prompt-none-LoggedIn: prompt=none with a session returns a code without any page', async () => {
    const before = last;
    const { signedIn, consentPages, claims } = await codeFlow({ prompt: 'none' });
    expect(signedIn).toBe(false);
    expect(consentPages).toEqual([]);
    expect(claims.sub).toBe(before.sub);
    expect(claims.auth_time).toBe(before.authTime);
  });

  it('OP-Req-max_age=1: a sign-in older than a second must be repeated', async () => {
    // max_age counts whole seconds since auth_time: wait until it is certainly exceeded.
    await sleep(Math.max(0, (last.authTime + 2) * 1000 - Date.now()) + 50);
    const previous = last.authTime;
    const { signedIn, claims } = await codeFlow({ max_age: '1' });
    expect(signedIn).toBe(true);
    expect(claims.auth_time).toBeGreaterThan(previous);
  });

  it('OP-prompt-login: prompt=login forces a new sign-in in an existing session', async () => {
    await sleep(Math.max(0, (last.authTime + 1) * 1000 - Date.now()) + 50);
    const previous = last.authTime;
    const { signedIn, claims } = await codeFlow({ prompt: 'login' });
    expect(signedIn).toBe(true);
    expect(claims.auth_time).toBeGreaterThan(previous);
  });

  it('OP-Req-max_age=10000: a recent sign-in is reused, and auth_time is in the ID token', async () => {
    const previous = last.authTime;
    const { signedIn, claims } = await codeFlow({ max_age: '10000' });
    expect(signedIn).toBe(false);
    expect(claims.auth_time).toBe(previous);
  });
});

describe('Basic OP: request parameters', () => {
  it('OP-Req-NotUnderstood: unknown parameters are ignored', async () => {
    const { callback } = await codeFlow({ extra_parameter: 'foobar', another: 'x' });
    expect(callback.searchParams.get('code')).toBeTruthy();
  });

  it("OP-Req-id_token_hint: a hint naming the signed-in citizen is accepted silently; another citizen's is not", async () => {
    const { claims, signedIn } = await codeFlow({ prompt: 'none', id_token_hint: last.idToken });
    expect(signedIn).toBe(false);
    expect(claims.sub).toBe(last.sub);
    // A hint for someone else in this browser: One-ID will not silently sign in a different person.
    const other = await enrolCitizen(app);
    const otherRequest = rp.request();
    const otherResult = await signInDetailed(
      app,
      createBrowserSession(),
      other.authenticator,
      otherRequest.url,
    );
    const otherTokens = await rp.tokens(otherResult.callback, otherRequest.verifier);
    const request = rp.request({ prompt: 'none', id_token_hint: otherTokens.id_token });
    const { url } = await landing(app, session, request.url);
    expect(url.searchParams.get('error')).toBe('login_required');
  });

  it('OP-Req-login_hint: login_hint pre-fills the sign-in page, which completes', async () => {
    const browser = createBrowserSession();
    const request = rp.request({ login_hint: 'park@example.com' });
    const { html } = await landing(app, browser, request.url);
    expect(html).toContain('id="passkey-login"');
    expect(html).toMatch(/id="identifier"[^>]*value="park@example.com"/);
    const { signedIn } = await codeFlow({ login_hint: 'park@example.com' }, { browser });
    expect(signedIn).toBe(true);
  });

  it('OP-Req-ui_locales: the sign-in page follows ui_locales (en, ko)', async () => {
    for (const [uiLocales, lang] of [
      ['en', 'en'],
      ['fr-FR en', 'en'],
      ['ko', 'ko'],
    ] as const) {
      const { html } = await landing(
        app,
        createBrowserSession(),
        rp.request({ ui_locales: uiLocales }).url,
      );
      expect(html).toContain(`<html lang="${lang}">`);
    }
  });

  it('OP-Req-claims_locales: claims_locales is accepted', async () => {
    const { tokens } = await codeFlow({ scope: 'openid profile', claims_locales: 'en ko' });
    expect((await rp.userinfo(tokens.access_token)).body.name).toBe('박민수');
  });

  it('OP-Req-acr_values: the acr asked for is the acr asserted', async () => {
    const { claims } = await codeFlow({ acr_values: 'urn:one-id:loa:substantial' });
    expect(claims.acr).toBe('urn:one-id:loa:substantial');
    expect(claims.amr).toEqual(['hwk', 'user']);
  });

  it('One-ID: acr_values=urn:one-id:loa:high cannot be met by a passkey: unmet_authentication_requirements', async () => {
    const request = rp.request({ acr_values: 'urn:one-id:loa:high' });
    const { callback } = await signInDetailed(
      app,
      createBrowserSession(),
      citizen.authenticator,
      request.url,
    );
    const url = new URL(callback);
    expect(url.searchParams.get('error')).toBe('unmet_authentication_requirements');
    expect(url.searchParams.get('state')).toBe(request.state);
  });

  it('OP-claims-essential: an essential claim asked for with the claims parameter is released at userinfo', async () => {
    const client = await createRp(app, { allowed_claims: ALLOWANCES });
    const { tokens, consentPages } = await codeFlow(
      { scope: 'openid', claims: JSON.stringify({ userinfo: { name: { essential: true } } }) },
      { client },
    );
    expect(consentPages.flatMap((p) => [...p.required, ...p.optional])).toEqual(['name']);
    const { body } = await client.userinfo(tokens.access_token);
    expect(body.name).toBe('박민수');
    expect(body.email).toBeUndefined();
  });

  it('OIDC Core 5.5: a claim asked for under id_token in the claims parameter is in the ID token', async () => {
    const client = await createRp(app, { allowed_claims: ALLOWANCES });
    const { claims, tokens } = await codeFlow(
      { scope: 'openid', claims: JSON.stringify({ id_token: { email: null } }) },
      { client },
    );
    expect(claims.email).toBe('park@example.com');
    expect((await client.userinfo(tokens.access_token)).body.email).toBeUndefined();
  });
});

describe('Basic OP: redirect_uri', () => {
  it('OP-redirect_uri-NotReg: an unregistered redirect_uri gets an error page, never a redirect', async () => {
    const { res, atOneId, html } = await landing(
      app,
      createBrowserSession(),
      rp.request({ redirect_uri: 'http://localhost:4999/not-registered' }).url,
    );
    expect(atOneId).toBe(true);
    expect(res.status).toBe(400);
    expect(html).toContain('invalid_redirect_uri');
  });

  it('OP-redirect_uri-Missing: without redirect_uri (several registered) One-ID shows an error', async () => {
    const two = await createRp(app, {
      redirect_uris: ['http://localhost:4101/cb', 'http://localhost:4101/cb2'],
    });
    const { res, atOneId, html } = await landing(
      app,
      createBrowserSession(),
      two.request({ redirect_uri: undefined }).url,
    );
    expect(atOneId).toBe(true);
    expect(res.status).toBe(400);
    expect(html).toContain('invalid_request');
  });

  it('OP-redirect_uri-Missing (one registered): without redirect_uri One-ID still shows an error', async () => {
    const { res, atOneId, html } = await landing(
      app,
      createBrowserSession(),
      rp.request({ redirect_uri: undefined }).url,
    );
    expect(atOneId).toBe(true);
    expect(res.status).toBe(400);
    expect(html).toContain('invalid_request');
  });

  it('OP-redirect_uri-Query-OK / -Query-Added / -Query-Mismatch: a registered query is matched exactly', async () => {
    const withQuery = await createRp(app, {
      redirect_uris: ['http://localhost:4102/cb?agency=seoul'],
      allowed_claims: ALLOWANCES,
    });
    const ok = await codeFlow({}, { client: withQuery });
    expect(ok.callback.searchParams.get('agency')).toBe('seoul');
    expect(ok.callback.searchParams.get('code')).toBeTruthy();
    for (const wrong of [
      'http://localhost:4102/cb?agency=seoul&extra=1',
      'http://localhost:4102/cb?agency=busan',
    ]) {
      const { res, html } = await landing(
        app,
        createBrowserSession(),
        withQuery.request({ redirect_uri: wrong }).url,
      );
      expect(res.status).toBe(400);
      expect(html).toContain('invalid_redirect_uri');
    }
  });

  it('One-ID: exact matching — a trailing slash, 127.0.0.1 for localhost or another port is another URI', async () => {
    const registered = new URL(rp.client.redirectUri);
    const variants = [
      `${registered.href}/`,
      registered.href.replace('localhost', '127.0.0.1'),
      registered.href.replace(`:${registered.port}`, `:${Number(registered.port) + 1}`),
    ];
    for (const redirectUri of variants) {
      const { res, html } = await landing(
        app,
        createBrowserSession(),
        rp.request({ redirect_uri: redirectUri }).url,
      );
      expect(res.status, redirectUri).toBe(400);
      expect(html).toContain('invalid_redirect_uri');
    }
  });
});

describe('Basic OP: token endpoint', () => {
  it('OP-ClientAuth-Basic-Static: client_secret_basic', async () => {
    const request = rp.request();
    const { callback } = await signInDetailed(app, session, citizen.authenticator, request.url);
    expect((await rp.redeem(callback, request.verifier, 'basic')).status).toBe(200);
  });

  it('OP-ClientAuth-SecretPost-Static: client_secret_post (the engine also takes the secret as Basic)', async () => {
    const post = await createRp(app, {
      token_endpoint_auth_method: 'client_secret_post',
      allowed_claims: ALLOWANCES,
    });
    const first = post.request();
    const { callback } = await signInDetailed(app, session, citizen.authenticator, first.url);
    expect((await post.redeem(callback, first.verifier, 'post')).status).toBe(200);
    const second = post.request();
    const again = await signInDetailed(app, session, citizen.authenticator, second.url);
    expect(
      await post.redeem(again.callback, second.verifier, 'post', 'not-the-secret'),
    ).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    // oidc-provider treats the two client_secret_* methods as interchangeable for one client.
    expect((await post.redeem(again.callback, second.verifier, 'basic')).status).toBe(200);
  });

  it('OP-OAuth-2nd: a code works once; the second use is invalid_grant', async () => {
    const request = rp.request();
    const { callback } = await signInDetailed(app, session, citizen.authenticator, request.url);
    expect((await rp.redeem(callback, request.verifier)).status).toBe(200);
    expect(await rp.redeem(callback, request.verifier)).toMatchObject({
      status: 400,
      body: { error: 'invalid_grant' },
    });
  });

  it('OP-OAuth-2nd-Revokes: reusing a code revokes the tokens issued for it', async () => {
    const request = rp.request();
    const { callback } = await signInDetailed(app, session, citizen.authenticator, request.url);
    const first = await rp.redeem(callback, request.verifier);
    expect((await rp.userinfo(first.body.access_token!)).status).toBe(200);
    await rp.redeem(callback, request.verifier);
    expect((await rp.userinfo(first.body.access_token!)).status).toBe(401);
  });

  it('oidcc-ensure-request-with-valid-pkce-succeeds: S256 verifier accepted; a wrong one is invalid_grant; none at all is refused', async () => {
    const request = rp.request();
    const { callback } = await signInDetailed(app, session, citizen.authenticator, request.url);
    expect(await rp.redeem(callback, 'x'.repeat(43))).toMatchObject({
      status: 400,
      body: { error: 'invalid_grant' },
    });
    const ok = rp.request();
    const good = await signInDetailed(app, session, citizen.authenticator, ok.url);
    expect((await rp.redeem(good.callback, ok.verifier)).status).toBe(200);
    for (const params of [
      { code_challenge: undefined, code_challenge_method: undefined },
      { code_challenge_method: 'plain' },
    ]) {
      const { url } = await landing(app, session, rp.request(params).url);
      expect(url.searchParams.get('error')).toBe('invalid_request');
    }
  });

  it('oidcc-refresh-token: a refresh token gives new tokens once (rotation; reuse ends the grant)', async () => {
    const { tokens, claims } = await codeFlow();
    const refresh = (token: string) =>
      fetch(rp.meta.token_endpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${rp.client.clientId}:${rp.client.clientSecret}`).toString('base64')}`,
        },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token }),
      }).then(async (res) => ({
        status: res.status,
        body: (await res.json()) as Record<string, string>,
      }));
    const refreshed = await refresh(tokens.refresh_token!);
    expect(refreshed.status).toBe(200);
    expect((await rp.idToken(refreshed.body.id_token!)).claims.sub).toBe(claims.sub);
    expect(refreshed.body.refresh_token).not.toBe(tokens.refresh_token);
    expect(await refresh(tokens.refresh_token!)).toMatchObject({
      status: 400,
      body: { error: 'invalid_grant' },
    });
    // RFC 9700 4.14.2: a rotated refresh token used again means it leaked; the whole grant ends,
    // including the tokens issued by the legitimate refresh.
    expect(await refresh(refreshed.body.refresh_token!)).toMatchObject({
      status: 400,
      body: { error: 'invalid_grant' },
    });
    expect((await rp.userinfo(refreshed.body.access_token!)).status).toBe(401);
  });
});

describe('Basic OP: request objects and registration', () => {
  it('OP-request-Unsigned (oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported): request objects must be signed', async () => {
    // Request objects are offered signed only (FAPI 2.0 Message Signing; the engine has no `none`).
    expect(rp.meta.request_parameter_supported).toBe(true);
    expect(rp.meta.request_object_signing_alg_values_supported).not.toContain('none');
    const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ client_id: rp.client.clientId, scope: 'openid' })).toString('base64url')}.`;
    const request = rp.request({ request: unsigned });
    const { url } = await landing(app, createBrowserSession(), request.url);
    expect(url.searchParams.get('error')).toBe('invalid_request_object');
    expect(url.searchParams.has('code')).toBe(false);
  });

  it('OP-request_uri-Unsigned: request_uri is rejected as unsupported', async () => {
    expect(rp.meta.request_uri_parameter_supported).toBe(false);
    const { url } = await landing(
      app,
      createBrowserSession(),
      rp.request({ request_uri: 'https://agency.example/request.jwt' }).url,
    );
    expect(url.searchParams.get('error')).toBe('request_uri_not_supported');
  });

  it('OP-Registration-*: not offered (no registration_endpoint; systems are registered by One-ID operators)', async () => {
    expect(rp.meta.registration_endpoint).toBeUndefined();
  });
});
