// Abuse: rate limits on sign-in ceremonies, enrolment links, the token endpoint and the admin
// API; progressive delays, then a temporary lock, of a passkey or certificate that keeps failing,
// never of the account. Refusals are 429 + Retry-After: OAuth JSON on the engine's endpoints,
// problem+json for fetches and the admin API, a readable page (ko/en) for citizens.
// Requests come through the trusted proxy (TRUSTED_PROXIES=127.0.0.1) on behalf of a different
// documentation address per test, so each test has counters of its own.
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { createBrowserSession, csrfFrom } from '../support/browser-session.ts';
import { authorizationRequest, discover, enrolCitizen, registerClient } from '../support/flows.ts';
import { createSoftAuthenticator, type SoftAuthenticator } from '../support/soft-authenticator.ts';
import {
  certificateEnv,
  createTestPki,
  linkCertificate,
  signChallenge,
  type TestPki,
} from '../auth/certificate-login/support.ts';
import { captureLogs, requestFrom, sleep, via } from './support.ts';

const LIMITS = {
  TRUSTED_PROXIES: '127.0.0.1',
  RATE_LIMIT_SIGNIN_PER_MINUTE: '30',
  RATE_LIMIT_ACCOUNT_PER_MINUTE: '8',
  RATE_LIMIT_ENROLMENT_PER_MINUTE: '3',
  RATE_LIMIT_TOKEN_PER_MINUTE: '3',
  RATE_LIMIT_ADMIN_PER_MINUTE: '3',
  LOCKOUT_THRESHOLD: '3',
  LOCKOUT_SECONDS: '2',
};

let app: TestApp;
let pki: TestPki;
let citizen: Awaited<ReturnType<typeof enrolCitizen>>;
let second: SoftAuthenticator;
const logs = captureLogs();
const secrets: Record<string, string | undefined> = {};

beforeAll(async () => {
  pki = await createTestPki();
  app = await startTestApp({ ...LIMITS, ...certificateEnv(pki) }, { app: { logger: logs.logger } });
  citizen = await enrolCitizen(app, {
    name: '정다운',
    email: `jung.${randomBytes(3).toString('hex')}@example.com`,
  });
  // A second passkey of the same citizen (e.g. their laptop), registered the way enrolment does it.
  second = createSoftAuthenticator({ origin: app.issuer });
  const options = await app.services.passkeys.registrationOptions(citizen.account, 'test:second');
  await app.knex.transaction((trx) =>
    app.services.passkeys.verifyRegistration(
      trx,
      citizen.account,
      'test:second',
      second.register(options) as never,
      'Laptop',
    ),
  );
});
afterAll(async () => {
  await app?.stop();
  await pki?.close();
});

const problem = async (res: Response) =>
  (await res.json()) as { code?: string; error?: string; error_description?: string };

const expect429 = (res: Response) => {
  expect(res.status).toBe(429);
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
};

/** The login page of a fresh authorization request, opened on behalf of `address`. */
const openLogin = async (address: string) => {
  const client = await registerClient(app);
  const config = await discover(app, client);
  const request = await authorizationRequest(config, client.redirectUri);
  const session = createBrowserSession();
  const { res, url } = await session.follow(request.url.toString(), app.issuer, {
    headers: via(address),
  });
  const html = await res.text();
  return { session, path: new URL(url).pathname, csrf: csrfFrom(html), address };
};
type Login = Awaited<ReturnType<typeof openLogin>>;

const post = (login: Login, step: string, json: unknown) =>
  login.session.request(`${app.issuer}${login.path}/${step}`, {
    method: 'POST',
    json,
    headers: via(login.address, { 'x-csrf-token': login.csrf, accept: 'application/json' }),
  });

/** One passkey attempt: fresh options, then the assertion `tamper` makes of the authenticator's answer. */
const passkeyAttempt = async (login: Login, authenticator: SoftAuthenticator, tamper = false) => {
  const options = await (await post(login, 'passkey/options', {})).json();
  const assertion = authenticator.authenticate(options);
  if (tamper) {
    const signature = Buffer.from(assertion.response.signature, 'base64url');
    signature.writeUInt8(signature.readUInt8(signature.length - 1) ^ 0x01, signature.length - 1);
    assertion.response.signature = signature.toString('base64url');
  }
  return post(login, 'passkey/verify', assertion);
};

/** One signed-challenge attempt with the citizen's certificate; `failing`: signed by its key for another audience. */
const certificateAttempt = async (
  login: Login,
  leaf: Awaited<ReturnType<TestPki['citizen']>>,
  failing = false,
) => {
  const { nonce, audience } = await (await post(login, 'certificate/challenge', {})).json();
  const jws = await signChallenge({
    nonce,
    audience: failing ? `${audience}/elsewhere` : audience,
    leaf,
    chain: [pki.intermediate],
  });
  return post(login, 'certificate/verify', { jws });
};

describe('rate limits', () => {
  it('limits sign-in ceremonies per client address, with problem+json and Retry-After', async () => {
    const login = await openLogin('203.0.113.10');
    const statuses: number[] = [];
    for (let i = 0; i < 30; i += 1)
      statuses.push(
        (
          await login.session.request(`${app.issuer}${login.path}/passkey/options`, {
            method: 'POST',
            json: {},
            headers: via(login.address),
          })
        ).status,
      );
    expect(statuses.every((s) => s === 403)).toBe(true); // no CSRF token: refused, and counted
    const limited = await post(login, 'passkey/options', {});
    expect429(limited);
    expect(limited.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(await problem(limited)).toMatchObject({ code: 'ERR_RATE_LIMITED' });
    // Another address is not affected.
    expect((await post({ ...login, address: '203.0.113.11' }, 'passkey/options', {})).status).toBe(
      200,
    );
  });

  it('limits passkey options per identifier', async () => {
    const login = await openLogin('203.0.113.12');
    for (let i = 0; i < 8; i += 1)
      expect(
        (await post(login, 'passkey/options', { identifier: 'target@example.com' })).status,
      ).toBe(200);
    const limited = await post(login, 'passkey/options', { identifier: 'TARGET@example.com ' });
    expect429(limited);
    expect((await post(login, 'passkey/options', { identifier: 'other@example.com' })).status).toBe(
      200,
    );
  });

  it('limits enrolment links per address with a readable page in Korean and English', async () => {
    const path = `${app.issuer}/enrol/${'x'.repeat(43)}`;
    for (let i = 0; i < 3; i += 1)
      expect((await fetch(path, { headers: via('203.0.113.20') })).status).toBe(404);
    const ko = await fetch(path, { headers: via('203.0.113.20') });
    expect429(ko);
    expect(ko.headers.get('content-type')).toMatch(/text\/html/);
    expect(await ko.text()).toContain('요청이 너무 많습니다');
    const en = await fetch(`${path}?lang=en`, { headers: via('203.0.113.20') });
    expect429(en);
    expect(await en.text()).toContain('Too many requests');
  });

  it('believes X-Forwarded-For only from a trusted proxy, and only its nearest hop', async () => {
    const path = `${app.issuer}/enrol/${'y'.repeat(43)}`;
    // A client on 127.0.0.2 (not a trusted proxy) naming a new address each time is still one client.
    const direct = [];
    for (let i = 0; i < 4; i += 1)
      direct.push(
        (
          await requestFrom('127.0.0.2', path, {
            headers: { 'x-forwarded-for': `198.51.100.${i}` },
          })
        ).status,
      );
    expect(direct).toEqual([404, 404, 404, 429]);
    // Through the proxy, entries the client wrote to the left of the proxy's own are ignored.
    const proxied = [];
    for (let i = 0; i < 4; i += 1)
      proxied.push(
        (await fetch(path, { headers: { 'x-forwarded-for': `198.51.100.${i}, 203.0.113.21` } }))
          .status,
      );
    expect(proxied).toEqual([404, 404, 404, 429]);
  });

  it('limits the token endpoint per client_id and address with an OAuth error', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    const common = { grant_types: ['authorization_code', 'client_credentials'] };
    const basic = await registerClient(app, common);
    const postClient = await registerClient(app, {
      ...common,
      token_endpoint_auth_method: 'client_secret_post',
    });
    const jwtClient = await registerClient(app, {
      ...common,
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [jwk] },
    });
    secrets.basic = basic.clientSecret;
    secrets.post = postClient.clientSecret;
    const token = (body: Record<string, string>, headers: Record<string, string> = {}) =>
      fetch(`${app.issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams({ grant_type: 'client_credentials', ...body }).toString(),
      });
    const assertion = () =>
      new SignJWT({ jti: randomBytes(8).toString('hex') })
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setIssuer(jwtClient.clientId)
        .setSubject(jwtClient.clientId)
        .setAudience(app.issuer)
        .setIssuedAt()
        .setExpirationTime('1m')
        .sign(privateKey);
    const attempts = {
      basic: () =>
        token(
          {},
          {
            authorization: `Basic ${Buffer.from(`${basic.clientId}:${basic.clientSecret}`).toString('base64')}`,
          },
        ),
      post: () =>
        token({ client_id: postClient.clientId, client_secret: postClient.clientSecret! }),
      jwt: async () => {
        const jwt = await assertion();
        secrets[`assertion ${jwt.slice(-8)}`] = jwt;
        return token({
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: jwt,
        });
      },
    };
    for (const [name, attempt] of Object.entries(attempts)) {
      // The engine still reads the body the limiter looked at: the allowed requests succeed.
      for (let i = 0; i < 3; i += 1)
        expect((await attempt()).status, `${name} #${i + 1}`).toBe(200);
      const limited = await attempt();
      expect429(limited);
      expect(limited.headers.get('cache-control')).toBe('no-store');
      expect(await problem(limited)).toMatchObject({
        error: 'temporarily_unavailable',
        error_description: expect.stringMatching(/retry after \d+ seconds/),
      });
    }
    // The same client from another address has its own allowance: nobody spends an agency's by naming its client_id.
    const elsewhere = await token(
      { client_id: postClient.clientId, client_secret: postClient.clientSecret! },
      via('203.0.113.30'),
    );
    expect(elsewhere.status).toBe(200);
    // Naming a new client_id each time does not escape the per-address limit (10 x 3 per minute).
    const statuses = [];
    for (let i = 0; i < 31; i += 1)
      statuses.push(
        (await token({ client_id: `nobody-${i}`, client_secret: 'x' }, via('203.0.113.31'))).status,
      );
    expect(statuses.slice(0, 30).every((s) => s === 401)).toBe(true);
    expect(statuses[30]).toBe(429);
  });

  it('limits every other sign-in ceremony per address: upstream identity providers, their callback, linking, recovery', async () => {
    // Each family from an address of its own; the interactions and sessions need not exist: the
    // limit answers before the route runs, so a flood of bad requests is counted too.
    const families = [
      {
        name: 'start at an upstream',
        address: '203.0.113.60',
        url: '/interaction/uid-1/upstream/gov',
        page: true,
      },
      {
        name: 'upstream callback',
        address: '203.0.113.61',
        url: '/federation/callback?state=s&code=c',
        page: true,
      },
      {
        name: 'return from an upstream',
        address: '203.0.113.62',
        url: '/interaction/uid-1/federation/return?state=s&code=c',
        page: true,
      },
      {
        name: 'link: passkey proof',
        address: '203.0.113.63',
        url: '/interaction/uid-1/federation/link/passkey/options',
        json: {},
      },
      {
        name: 'link: confirm the match',
        address: '203.0.113.64',
        url: '/interaction/uid-1/federation/link/confirm',
        form: {},
        page: true,
      },
      {
        name: 'recovery: register a passkey',
        address: '203.0.113.65',
        url: '/account/recover/passkey/verify',
        json: {},
      },
      {
        name: 'recovery: unlink a certificate',
        address: '203.0.113.66',
        url: '/account/recover/certificates/remove',
        form: {},
        page: true,
      },
      {
        name: 'security: register a passkey',
        address: '203.0.113.67',
        url: '/account/security/passkey/options',
        json: {},
      },
    ];
    for (const family of families) {
      const send = (query = '') =>
        createBrowserSession().request(`${app.issuer}${family.url}${query}`, {
          method: family.json || family.form ? 'POST' : 'GET',
          ...(family.json && { json: family.json }),
          ...(family.form && { form: family.form }),
          headers: via(family.address, family.json ? { accept: 'application/json' } : {}),
        });
      const statuses: number[] = [];
      for (let i = 0; i < 30; i += 1) statuses.push((await send()).status);
      expect(
        statuses.filter((s) => s === 429),
        family.name,
      ).toEqual([]);
      const limited = await send();
      expect429(limited);
      if (family.page) {
        expect(limited.headers.get('content-type'), family.name).toMatch(/text\/html/);
        expect(await limited.text(), family.name).toContain('요청이 너무 많습니다');
        const en = await send(`${family.url.includes('?') ? '&' : '?'}lang=en`);
        expect429(en);
        expect(await en.text(), family.name).toContain('Too many requests');
      } else {
        expect(limited.headers.get('content-type'), family.name).toMatch(
          /application\/problem\+json/,
        );
        expect(await problem(limited), family.name).toMatchObject({ code: 'ERR_RATE_LIMITED' });
      }
    }
  });

  it('limits the agency links API per access token and per address, with problem+json', async () => {
    const call = (token: string | undefined, address: string, method = 'GET') =>
      fetch(`${app.issuer}/api/agency-links${method === 'POST' ? '' : '/some-sub'}`, {
        method,
        headers: via(address, {
          ...(token && { authorization: `Bearer ${token}` }),
          ...(method === 'POST' && { 'content-type': 'application/json' }),
        }),
        ...(method === 'POST' && { body: '{}' }),
      });
    secrets['agency token'] = `agency-token-${randomBytes(12).toString('hex')}`;
    // Per token: the token endpoint's allowance (3 here), whichever address and method it comes from.
    for (const method of ['GET', 'POST', 'DELETE'])
      expect((await call(secrets['agency token'], '203.0.113.70', method)).status).toBe(401);
    const limited = await call(secrets['agency token'], '203.0.113.70', 'POST');
    expect429(limited);
    expect(limited.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(limited.headers.get('cache-control')).toBe('no-store');
    expect(await problem(limited)).toMatchObject({ code: 'ERR_RATE_LIMITED' });
    expect((await call(secrets['agency token'], '203.0.113.71')).status).toBe(429);
    expect((await call('another-agency-token-0123456789', '203.0.113.71')).status).toBe(401);
    // Per address, 10x: a caller sending a new token (or none) each time is still one caller.
    const statuses = [];
    for (let i = 0; i < 31; i += 1)
      statuses.push(
        (await call(i % 2 ? `token-${i}-${'t'.repeat(24)}` : undefined, '203.0.113.72')).status,
      );
    expect(statuses.slice(0, 30).every((s) => s === 401)).toBe(true);
    expect(statuses[30]).toBe(429);
  });

  it('limits the admin API per bearer token and per address', async () => {
    const call = (token: string, address: string) =>
      fetch(`${app.issuer}/admin/api/clients`, {
        headers: via(address, { authorization: `Bearer ${token}`, accept: 'application/json' }),
      });
    secrets['admin token'] = 'admin-token-' + randomBytes(12).toString('hex');
    for (let i = 0; i < 3; i += 1)
      expect((await call(secrets['admin token']!, '203.0.113.40')).status).not.toBe(429);
    const limited = await call(secrets['admin token']!, '203.0.113.40');
    expect429(limited);
    expect(limited.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(await problem(limited)).toMatchObject({ code: 'ERR_RATE_LIMITED' });
    // The same token from elsewhere is still limited (per token); another token from another address is not.
    expect((await call(secrets['admin token']!, '203.0.113.41')).status).toBe(429);
    expect((await call('another-token', '203.0.113.42')).status).not.toBe(429);
  });
});

describe('lockout of a failing sign-in method', () => {
  it('delays, then locks the passkey or certificate that keeps failing, never the account', async () => {
    const leaf = await pki.citizen();
    await linkCertificate(app, citizen.account.id, leaf, [pki.intermediate]);
    const login = await openLogin('203.0.113.50');
    const code = async (res: Response) => `${res.status} ${(await problem(res)).code}`;

    // Two failures each (threshold 3): the next attempt must wait (progressive delay, 1 s).
    for (let i = 0; i < 2; i += 1) {
      expect(await code(await passkeyAttempt(login, citizen.authenticator, true))).toBe(
        '400 ERR_PASSKEY_VERIFICATION_FAILED',
      );
      expect(await code(await certificateAttempt(login, leaf, true))).toMatch(/^401 ERR_CERT_/);
    }
    const delayed = await passkeyAttempt(login, citizen.authenticator);
    expect429(delayed);
    expect(await problem(delayed)).toMatchObject({ code: 'ERR_CREDENTIAL_LOCKED' });
    const certDelayed = await certificateAttempt(login, leaf);
    expect429(certDelayed);
    expect(await problem(certDelayed)).toMatchObject({ code: 'ERR_CERTIFICATE_LOCKED' });

    // The third failure locks them (2 s): even the genuine key is refused meanwhile.
    await sleep(1100);
    expect((await passkeyAttempt(login, citizen.authenticator, true)).status).toBe(400);
    expect((await certificateAttempt(login, leaf, true)).status).toBe(401);
    const locked = await passkeyAttempt(login, citizen.authenticator);
    expect429(locked);
    expect(Number(locked.headers.get('retry-after'))).toBe(2);
    expect((await certificateAttempt(login, leaf)).status).toBe(429);

    // The same citizen's other passkey still signs in: the account was never locked.
    const other = await passkeyAttempt(login, second);
    expect(other.status).toBe(200);
    expect(await other.json()).toHaveProperty('location');

    // Once the lock has passed, the genuine passkey and certificate work again.
    await sleep(2100);
    const again = await openLogin('203.0.113.51');
    expect((await passkeyAttempt(again, citizen.authenticator)).status).toBe(200);
    const third = await openLogin('203.0.113.52');
    const cert = await certificateAttempt(third, leaf);
    expect(cert.status).toBe(200);
    expect(await cert.json()).toHaveProperty('location');
  });
});

describe('logs of refused requests', () => {
  it('hold no secret, token, assertion or personal data', async () => {
    await new Promise((resolve) => setImmediate(resolve));
    expect(logs.lines.length).toBeGreaterThan(10);
    logs.expectNone({
      ...secrets,
      'citizen name': '정다운',
      'citizen email': citizen.account.email ?? undefined,
    });
    expect(logs.lines.join('\n')).not.toMatch(/Bearer |Basic |client_secret|client_assertion"/i);
  });
});
