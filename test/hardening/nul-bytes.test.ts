// NUL characters: PostgreSQL text and jsonb cannot hold U+0000, so a NUL that reached a query
// would fail inside the database. Every endpoint must answer such input with a clear 4xx instead
// (found by the property test in CI: a passkey identifier of "\u0000" gave a 500).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { createBrowserSession, csrfFrom } from '../support/browser-session.ts';
import { authorizationRequest, discover, enrolCitizen, registerClient } from '../support/flows.ts';
import { createAdmin } from '../admin/support.ts';

let app: TestApp;
let client: Awaited<ReturnType<typeof registerClient>>;
let login: { path: string; cookie: string; csrf: string };
let adminToken: string;

beforeAll(async () => {
  app = await startTestApp();
  await enrolCitizen(app);
  adminToken = (await createAdmin(app, 'platform')).token;
  client = await registerClient(app);
  const config = await discover(app, client);
  const session = createBrowserSession();
  const { res, url } = await session.follow(
    (await authorizationRequest(config, client.redirectUri)).url.toString(),
    app.issuer,
  );
  login = {
    path: new URL(url).pathname,
    cookie: [...session.jar].map(([k, v]) => `${k}=${v}`).join('; '),
    csrf: csrfFrom(await res.text()),
  };
});
afterAll(() => app?.stop());

const basic = () =>
  `Basic ${Buffer.from(`${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.clientSecret ?? '')}`).toString('base64')}`;
const form = (fields: Record<string, string>) => ({
  'content-type': 'application/x-www-form-urlencoded',
  body: new URLSearchParams(fields).toString(),
});

const cases: Array<
  [string, () => { method?: string; path: string; headers?: Record<string, string>; body?: string }]
> = [
  [
    'passkey options, JSON identifier',
    () => ({
      method: 'POST',
      path: `${login.path}/passkey/options`,
      headers: {
        cookie: login.cookie,
        'x-csrf-token': login.csrf,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ identifier: '\u0000' }),
    }),
  ],
  [
    'passkey options, form identifier',
    () => ({
      method: 'POST',
      path: `${login.path}/passkey/options`,
      headers: {
        cookie: login.cookie,
        'x-csrf-token': login.csrf,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'identifier=a%00b',
    }),
  ],
  [
    'passkey verify, credential id',
    () => ({
      method: 'POST',
      path: `${login.path}/passkey/verify`,
      headers: {
        cookie: login.cookie,
        'x-csrf-token': login.csrf,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ id: 'x\u0000', rawId: 'eA', type: 'public-key', response: {} }),
    }),
  ],
  [
    'certificate enrolment, name',
    () => ({
      method: 'POST',
      path: `${login.path}/certificate/enrol`,
      headers: { cookie: login.cookie },
      ...form({ name: '홍\u0000', birthdate: '1990-01-01', _csrf: login.csrf }),
    }),
  ],
  [
    'authorization, client_id',
    () => ({
      path: `/auth?client_id=%00&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(client.redirectUri)}`,
    }),
  ],
  [
    'authorization, login_hint',
    () => ({
      path: `/auth?client_id=${encodeURIComponent(client.clientId)}&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(client.redirectUri)}&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256&login_hint=%00&state=%00&nonce=%00`,
    }),
  ],
  [
    'token, client_id in the body',
    () => ({
      method: 'POST',
      path: '/token',
      headers: {},
      ...form({ grant_type: 'client_credentials', client_id: 'a\u0000', client_secret: 'x' }),
    }),
  ],
  [
    'token, code',
    () => ({
      method: 'POST',
      path: '/token',
      headers: { authorization: basic() },
      ...form({
        grant_type: 'authorization_code',
        code: '\u0000',
        redirect_uri: client.redirectUri,
        code_verifier: 'a'.repeat(43),
      }),
    }),
  ],
  [
    'token, refresh token',
    () => ({
      method: 'POST',
      path: '/token',
      headers: { authorization: basic() },
      ...form({ grant_type: 'refresh_token', refresh_token: 'x\u0000' }),
    }),
  ],
  [
    'token, Basic client id',
    () => ({
      method: 'POST',
      path: '/token',
      headers: { authorization: `Basic ${Buffer.from('a%00:b').toString('base64')}` },
      ...form({ grant_type: 'client_credentials' }),
    }),
  ],
  [
    'introspection',
    () => ({
      method: 'POST',
      path: '/token/introspection',
      headers: { authorization: basic() },
      ...form({ token: '\u0000' }),
    }),
  ],
  [
    'revocation',
    () => ({
      method: 'POST',
      path: '/token/revocation',
      headers: { authorization: basic() },
      ...form({ token: '\u0000' }),
    }),
  ],
  ['userinfo', () => ({ path: '/me', headers: { authorization: 'Bearer a%00' } })],
  ['logout', () => ({ path: `/session/end?client_id=%00&post_logout_redirect_uri=%00` })],
  ['interaction path', () => ({ path: '/interaction/%00' })],
  ['enrolment path', () => ({ path: '/enrol/%00' })],
  [
    'admin API path',
    () => ({ path: '/admin/api/clients/%00', headers: { authorization: 'Bearer x' } }),
  ],
  ['account page query', () => ({ path: '/account?lang=%00' })],
  [
    'admin API, path and query with a valid token',
    () => ({
      path: `/admin/api/clients/a%00b?after=%00`,
      headers: { authorization: `Bearer ${adminToken}` },
    }),
  ],
  [
    'admin API, audit search with a valid token',
    () => ({
      path: `/admin/api/audit?actor=%00&action=%00`,
      headers: { authorization: `Bearer ${adminToken}` },
    }),
  ],
];

describe('NUL characters in requests', () => {
  it.each(cases)('%s: a clear 4xx (or the normal answer), never a 500', async (_label, build) => {
    const req = build();
    const res = await fetch(`${app.issuer}${req.path}`, {
      method: req.method ?? 'GET',
      headers: req.headers ?? {},
      ...(req.body !== undefined && { body: req.body }),
      redirect: 'manual',
    });
    const body = await res.text();
    expect(res.status, body.slice(0, 300)).toBeLessThan(500);
    expect(body).not.toMatch(/invalid byte sequence|unsupported Unicode escape|\bat .+\.ts:\d+/);
  });

  it('the server still serves a normal sign-in page after all of them', async () => {
    const res = await fetch(`${app.issuer}${login.path}`, { headers: { cookie: login.cookie } });
    expect(res.status).toBe(200);
  });
});
