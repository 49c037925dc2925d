// The client metadata policy seen from every entry point (docs/admin.md, "Client metadata"):
// each standard registration field, with a valid and an invalid value, sent through the admin
// API, a manifest import, dynamic registration (RFC 7591) and the CLI, is honoured (stored and
// given back), refused with a reason naming the rule, or ignored (left out, with a warning where
// a person reads one). Also: mod_auth_openidc's registration request, RFC 7592 read-then-PUT,
// admin API GET-then-PUT, and discovery advertising only what registration accepts.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { runCli } from '../support/cli.ts';
import { createAdmin, unique, type Admin } from '../admin/support.ts';

type Outcome = 'honoured' | 'refused' | 'ignored';
/** [field, value, outcome, reason (refused), outcome in dynamic registration when different] */
type Case = [string, unknown, Outcome, RegExp?, Outcome?];

const REDIRECT = 'https://portal.example.go.kr/cb';
const CASES: Case[] = [
  ['redirect_uris', [REDIRECT, 'https://portal.example.go.kr/cb2'], 'honoured'],
  ['redirect_uris', ['https://portal.example.go.kr/*'], 'refused', /must not contain wildcards/],
  ['response_types', ['code'], 'honoured'],
  ['response_types', ['code id_token'], 'refused', /only "code" is supported/],
  ['grant_types', ['authorization_code'], 'honoured'],
  ['grant_types', ['implicit'], 'refused', /only authorization_code, refresh_token/],
  ['application_type', 'web', 'honoured'],
  ['application_type', 'desktop', 'refused', /web|native/],
  ['contacts', ['it@example.go.kr'], 'honoured'],
  ['contacts', ['not-an-address'], 'refused', /email/i],
  ['client_name', '민원 포털 v2', 'honoured'],
  ['client_name', 'One-ID 로그인', 'refused', /names One-ID itself/],
  ['client_name', '민원\u202E포털', 'refused', /bidirectional-override/],
  ['client_name#en', 'Civil Petitions Portal', 'honoured'],
  ['client_name#en', 'ONE ID portal', 'refused', /names One-ID itself/],
  ['description', '민원 신청과 처리 결과 조회', 'honoured'],
  ['description#en', 'Apply\u202Efor things', 'refused', /bidirectional-override/],
  ['logo_uri', 'https://portal.example.go.kr/logo.png', 'honoured'],
  ['client_uri', 'https://portal.example.go.kr/', 'honoured'],
  ['policy_uri', 'https://portal.example.go.kr/privacy', 'honoured'],
  ['policy_uri', 'http://portal.example.go.kr/privacy', 'refused', /https/],
  ['tos_uri', 'https://portal.example.go.kr/terms', 'honoured'],
  ['tos_uri', 'ftp://portal.example.go.kr/terms', 'refused', /https/],
  ['initiate_login_uri', 'https://portal.example.go.kr/login', 'honoured'],
  ['initiate_login_uri', 'javascript:alert(1)', 'refused', /https/],
  ['subject_type', 'pairwise', 'honoured'],
  ['subject_type', 'public', 'refused', /One-ID issues pairwise identifiers only/],
  ['id_token_signed_response_alg', 'RS256', 'honoured'],
  ['id_token_signed_response_alg', 'HS256', 'refused', /id_token_signed_response_alg/],
  ['token_endpoint_auth_method', 'client_secret_post', 'honoured'],
  ['token_endpoint_auth_method', 'client_secret_jwt', 'refused', /offered: private_key_jwt/],
  ['default_max_age', 3600, 'honoured'],
  ['default_max_age', -1, 'refused', /default_max_age/],
  ['require_auth_time', true, 'honoured'],
  ['require_auth_time', 'yes', 'refused', /require_auth_time/],
  ['default_acr_values', ['urn:one-id:loa:substantial'], 'honoured'],
  ['default_acr_values', ['urn:example:gold'], 'refused', /default_acr_values/],
  ['scope', 'openid email', 'honoured'],
  ['post_logout_redirect_uris', ['https://portal.example.go.kr/bye'], 'honoured'],
  ['backchannel_logout_uri', 'https://portal.example.go.kr/bcl', 'honoured'],
  ['backchannel_logout_session_required', true, 'honoured'],
  ['dpop_bound_access_tokens', true, 'honoured'],
  ['require_pushed_authorization_requests', true, 'honoured'],
  ['userinfo_signed_response_alg', 'RS256', 'honoured'],
  ['userinfo_signed_response_alg', 'HS256', 'refused', /userinfo_signed_response_alg/],
  ['id_token_encrypted_response_alg', 'RSA-OAEP', 'refused', /encrypted responses are not/],
  ['request_object_signing_alg', 'none', 'refused', /request_object_signing_alg/],
  ['request_uris', ['https://portal.example.go.kr/r'], 'refused', /request objects/],
  ['authorization_signed_response_alg', 'RS256', 'honoured'],
  ['introspection_signed_response_alg', 'ES256', 'honoured'],
  ['security_profile', 'baseline', 'honoured'],
  ['security_profile', 'gold', 'refused', /must be baseline or fapi2/],
  ['token_endpoint_auth_method', 'tls_client_auth', 'refused', /needs exactly one of.*RFC 8705/],
  ['software_statement', 'eyJhbGciOiJub25lIn0.e30.', 'refused', /software statements/],
  [
    'frontchannel_logout_uri',
    'https://portal.example.go.kr/fcl',
    'refused',
    /front-channel logout is not offered; use backchannel_logout_uri/,
    'ignored',
  ],
  ['software_id', 'portal-4', 'ignored'],
  ['x_interop_note', 'unknown extension', 'ignored'],
];

let app: TestApp;
let platform: Admin;
let initialToken: string;
let dir: string;
const AGENCY = unique('행정안전부');

beforeAll(async () => {
  app = await startTestApp({ DCR_ENABLED: 'true' });
  platform = await createAdmin(app, 'platform');
  await platform.api('PUT', `/agencies/${encodeURIComponent(AGENCY)}`, {});
  initialToken = (await platform.api('POST', '/dcr/tokens', { agency: AGENCY })).body
    .initial_access_token;
  dir = mkdtempSync(join(tmpdir(), 'oneid-policy-'));
});
afterAll(async () => {
  await app?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const base = () => ({
  client_id: unique('sys'),
  client_name: '민원 포털',
  agency: AGENCY,
  redirect_uris: [REDIRECT],
  token_endpoint_auth_method: 'client_secret_basic',
});

const register = (body: Record<string, unknown>) =>
  fetch(`${app.issuer}/reg`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${initialToken}` },
    body: JSON.stringify(body),
  });

const label = ([field, value, outcome]: Case) => `${field}=${JSON.stringify(value)}: ${outcome}`;

describe('the admin API', () => {
  it.each(CASES.map((c) => [label(c), c] as const))('%s', async (_label, c) => {
    const [field, value, outcome, reason] = c;
    const res = await platform.api('POST', '/clients', { ...base(), [field]: value });
    if (outcome === 'refused') {
      expect(res.status).toBe(400);
      expect(res.type).toMatch(/problem\+json/);
      expect(res.body.detail).toContain(field);
      expect(res.body.detail).toMatch(reason!);
      return;
    }
    expect(res.status).toBe(201);
    const stored = (await app.services.clients.find(res.body.client_id))!.metadata;
    if (outcome === 'honoured') expect(stored[field]).toEqual(value);
    else {
      expect(stored).not.toHaveProperty(field);
      expect(res.body.metadata).not.toHaveProperty(field);
      expect(res.body.warnings).toEqual([`${field}: not used by One-ID; ignored`]);
    }
  });
});

describe('a manifest import', () => {
  it.each(CASES.map((c) => [label(c), c] as const))('%s', async (_label, c) => {
    const [field, value, outcome, reason] = c;
    const res = await platform.api(
      'POST',
      '/manifest?dry_run=true',
      JSON.stringify({ systems: [{ ...base(), [field]: value }] }),
      { 'content-type': 'application/json' },
    );
    if (outcome === 'refused') {
      expect(res.status).toBe(422);
      expect(res.body.rejected).toEqual([
        expect.objectContaining({
          field: expect.stringContaining(field),
          message: expect.any(String),
        }),
      ]);
      const [{ field: named, message }] = res.body.rejected;
      expect(`${named}: ${message}`).toMatch(reason!);
    } else {
      expect(res.status).toBe(200);
      expect(res.body.rejected).toEqual([]);
    }
  });
});

describe('dynamic registration (RFC 7591)', () => {
  it.each(CASES.map((c) => [label(c), c] as const))('%s', async (_label, c) => {
    const [field, value, generalOutcome, reason, dynamicOutcome] = c;
    const outcome = dynamicOutcome ?? generalOutcome;
    const { client_id: _id, agency: _agency, ...body } = base();
    const res = await register({ ...body, [field]: value });
    const answer = await res.json();
    if (outcome === 'refused') {
      expect(res.status).toBe(400);
      expect(answer.error).toMatch(/^invalid_(client_metadata|redirect_uri)$/);
      expect(answer.error_description).toContain(field);
      expect(answer.error_description).toMatch(reason!);
      return;
    }
    expect(res.status).toBe(201);
    const stored = (await app.services.clients.find(answer.client_id))!.metadata;
    if (outcome === 'honoured') {
      expect(answer[field]).toEqual(value);
      expect(stored[field]).toEqual(value);
    } else {
      expect(answer).not.toHaveProperty(field);
      expect(stored).not.toHaveProperty(field);
    }
  });
});

describe('the CLI', () => {
  const add = async (metadata: Record<string, unknown>) => {
    const file = join(dir, `${unique('client')}.json`);
    writeFileSync(file, JSON.stringify(metadata));
    return runCli(app, 'clients', 'add', '--file', file);
  };

  it('honours, refuses with the reason, and warns about what it ignores', async () => {
    const honoured = { ...base(), tos_uri: 'https://portal.example.go.kr/terms' };
    expect((await add(honoured)).code).toBe(0);
    expect((await app.services.clients.find(honoured.client_id))!.metadata.tos_uri).toBe(
      honoured.tos_uri,
    );
    const refused = await add({ ...base(), subject_type: 'public' });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr + refused.stdout).toContain(
      'subject_type: One-ID issues pairwise identifiers only',
    );
    const ignored = { ...base(), x_interop_note: 'hello' };
    const warned = await add(ignored);
    expect(warned.code).toBe(0);
    expect(warned.stdout).toContain('warning: x_interop_note: not used by One-ID; ignored');
    expect(await app.services.clients.find(ignored.client_id)).toBeTruthy();
  }, 180_000);
});

describe('round trips', () => {
  it("registers with mod_auth_openidc 2.4's request, then reads and PUTs it back unchanged (RFC 7592)", async () => {
    // The body src/metadata.c (oidc_metadata_client_register) builds, with the implicit response
    // and grant types replaced through OIDCProviderRegistrationEndpointJson.
    const redirectUri = 'https://apache.example.go.kr/protected/redirect_uri';
    const res = await register({
      client_name: 'Apache 민원 시스템',
      redirect_uris: [redirectUri],
      response_types: ['code'],
      grant_types: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_method: 'client_secret_basic',
      contacts: ['webmaster@example.go.kr'],
      id_token_signed_response_alg: 'RS256',
      initiate_login_uri: redirectUri,
      frontchannel_logout_uri: `${redirectUri}?logout=get`,
      backchannel_logout_uri: `${redirectUri}?logout=backchannel`,
      post_logout_redirect_uris: ['https://apache.example.go.kr/loggedout'],
    });
    expect(res.status).toBe(201);
    const registered = await res.json();
    expect(registered).toMatchObject({
      client_secret: expect.any(String),
      client_secret_expires_at: 0,
      subject_type: 'pairwise',
      initiate_login_uri: redirectUri,
      backchannel_logout_uri: `${redirectUri}?logout=backchannel`,
    });
    expect(registered).not.toHaveProperty('frontchannel_logout_uri');

    const auth = { authorization: `Bearer ${registered.registration_access_token}` };
    const read = await fetch(registered.registration_client_uri, { headers: auth });
    expect(read.status).toBe(200);
    const current = await read.json();
    // RFC 7592 2.2: everything but the four fields the server alone sets.
    const {
      registration_access_token: token,
      registration_client_uri: _uri,
      client_secret_expires_at: _exp,
      client_id_issued_at: _iat,
      ...unchanged
    } = current;
    const put = await fetch(registered.registration_client_uri, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(unchanged),
    });
    const putBody = await put.json();
    expect(put.status, JSON.stringify(putBody)).toBe(200);
    const { registration_access_token: _a, ...after } = putBody;
    const { registration_access_token: _b, ...before } = current;
    expect(after).toEqual(before);
  });

  it('an admin API GET can be PUT back unchanged', async () => {
    const created = await platform.api('POST', '/clients', {
      ...base(),
      tos_uri: 'https://portal.example.go.kr/terms',
      default_max_age: 600,
      require_auth_time: true,
      application_type: 'web',
    });
    expect(created.status).toBe(201);
    const path = `/clients/${created.body.client_id}`;
    const got = await platform.api('GET', path);
    const put = await platform.api('PUT', path, got.body);
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(put.body.warnings, JSON.stringify(put.body.warnings)).toBeUndefined();
    const { updated_at: _u1, ...after } = put.body;
    const { updated_at: _u2, ...before } = got.body;
    expect(after).toEqual(before);
  });

  it('discovery advertises only what registration accepts', async () => {
    const d = await (await fetch(`${app.issuer}/.well-known/openid-configuration`)).json();
    const attempts: Record<string, unknown>[] = [
      ...d.subject_types_supported.map((v: string) => ({ subject_type: v })),
      ...d.response_types_supported.map((v: string) => ({ response_types: [v] })),
      ...d.id_token_signing_alg_values_supported.map((v: string) => ({
        id_token_signed_response_alg: v,
      })),
      ...d.acr_values_supported.map((v: string) => ({ default_acr_values: [v] })),
      ...d.token_endpoint_auth_methods_supported.map((v: string) => ({
        token_endpoint_auth_method: v,
        ...(v === 'private_key_jwt' && { jwks_uri: 'https://portal.example.go.kr/jwks' }),
      })),
      ...d.token_endpoint_auth_signing_alg_values_supported.map((v: string) => ({
        token_endpoint_auth_method: 'private_key_jwt',
        jwks_uri: 'https://portal.example.go.kr/jwks',
        token_endpoint_auth_signing_alg: v,
      })),
      ...(d.dpop_signing_alg_values_supported ? [{ dpop_bound_access_tokens: true }] : []),
      ...(d.pushed_authorization_request_endpoint
        ? [{ require_pushed_authorization_requests: true }]
        : []),
      ...(d.backchannel_logout_supported
        ? [{ backchannel_logout_uri: 'https://portal.example.go.kr/bcl' }]
        : []),
    ];
    for (const extra of attempts) {
      const { client_id: _id, agency: _agency, ...body } = base();
      const res = await register({ ...body, ...extra });
      expect(res.status, `${JSON.stringify(extra)}: ${await res.text()}`).toBe(201);
    }
    // Message signing (FAPI 2.0 Message Signing): every advertised algorithm is accepted.
    for (const [field, advertised] of [
      ['request_object_signing_alg', 'request_object_signing_alg_values_supported'],
      ['userinfo_signed_response_alg', 'userinfo_signing_alg_values_supported'],
      ['authorization_signed_response_alg', 'authorization_signing_alg_values_supported'],
      ['introspection_signed_response_alg', 'introspection_signing_alg_values_supported'],
    ] as const)
      for (const alg of d[advertised] as string[]) {
        const { client_id: _id, agency: _agency, ...body } = base();
        const keys = field === 'request_object_signing_alg' && {
          jwks_uri: 'https://portal.example.go.kr/jwks',
        };
        const res = await register({ ...body, ...keys, [field]: alg });
        expect(res.status, `${field}=${alg}: ${await res.text()}`).toBe(201);
      }
    // What registration refuses is not advertised.
    expect(d).not.toHaveProperty('frontchannel_logout_supported');
    expect(d).not.toHaveProperty('request_uri_parameter_supported', true);
  });
});
