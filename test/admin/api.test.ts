// The admin API over real HTTP with tokens One-ID issues to itself: agency scoping, onboarding
// review (drafts), metadata validation as problem+json naming the field, keyset pagination and
// the OpenAPI document.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { csrfFrom } from '../support/browser-session.ts';
import {
  adminToken,
  apiClient,
  clientInput,
  consoleSignIn,
  createAdmin,
  unique,
  type Admin,
} from './support.ts';

let app: TestApp;
let platform: Admin;
let agencyA: Admin;
let agencyB: Admin;
let auditor: Admin;
const A = unique('행정안전부');
const B = unique('보건복지부');

beforeAll(async () => {
  app = await startTestApp();
  platform = await createAdmin(app, 'platform');
  agencyA = await createAdmin(app, 'agency', A);
  agencyB = await createAdmin(app, 'agency', B);
  auditor = await createAdmin(app, 'auditor', A);
});
afterAll(() => app?.stop());

describe('admin API', () => {
  it('refuses requests without a valid admin token', async () => {
    const none = await fetch(`${app.issuer}/admin/api/clients`);
    expect(none.status).toBe(401);
    expect(none.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const bad = await apiClient(app, 'not-a-token')('GET', '/clients');
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toContain('error="invalid_token"');
    const me = await platform.api('GET', '/me');
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({
      account_id: platform.account.id,
      roles: [{ role: 'platform', agency: null }],
      scopes: expect.arrayContaining(['admin:read', 'admin:write']),
    });
  });

  it('keeps agency administrators to their own agency', async () => {
    const mine = await agencyA.api('POST', '/clients', clientInput(A));
    expect(mine.status).toBe(201);
    // An agency administrator's system is a draft: unknown to the engine until reviewed.
    expect(mine.body.status).toBe('draft');
    expect(mine.body.client_secret).toMatch(/^[\w-]{43}$/);
    expect(await app.services.clients.engineMetadata(mine.body.client_id)).toBeUndefined();
    const theirs = await agencyB.api('POST', '/clients', clientInput(B));
    expect(theirs.status).toBe(201);

    // B's system is invisible to A (404, not 403: no probing), in lists too.
    expect((await agencyA.api('GET', `/clients/${theirs.body.client_id}`)).status).toBe(404);
    const listA = await agencyA.api('GET', '/clients');
    expect(listA.body.items.map((c: { agency: string }) => c.agency)).toEqual(
      listA.body.items.map(() => A),
    );
    expect(
      (await agencyA.api('GET', `/clients?agency=${encodeURIComponent(B)}`)).body.items,
    ).toEqual([]);
    for (const [method, path, body] of [
      ['PUT', `/clients/${theirs.body.client_id}`, clientInput(B, { client_id: undefined })],
      ['POST', `/clients/${theirs.body.client_id}/disable`],
      ['POST', `/clients/${theirs.body.client_id}/secret`],
      ['PUT', `/clients/${theirs.body.client_id}/allowances`, []],
      ['DELETE', `/clients/${theirs.body.client_id}`],
    ] as const) {
      const res = await agencyA.api(method, path, body);
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.type).toMatch(/^application\/problem\+json/);
    }
    // Nor may A register a system in B's name.
    const spoof = await agencyA.api('POST', '/clients', clientInput(B));
    expect(spoof.status).toBe(403);
    expect(spoof.body.field).toBe('agency');
    // A may not approve its own request either: enabling is the platform's review.
    expect((await agencyA.api('POST', `/clients/${mine.body.client_id}/enable`)).status).toBe(403);
    // B's audit is not A's.
    const auditA = await agencyA.api('GET', '/audit?action=clients.created');
    expect(auditA.status).toBe(200);
    expect(auditA.body.items.length).toBeGreaterThan(0);
    expect(
      auditA.body.items.every((r: { details: { agency: string } }) => r.details.agency === A),
    ).toBe(true);
    // An auditor reads its agency but changes nothing.
    expect((await auditor.api('GET', `/clients/${mine.body.client_id}`)).status).toBe(200);
    expect((await auditor.api('GET', `/clients/${theirs.body.client_id}`)).status).toBe(404);
    expect((await auditor.api('POST', `/clients/${mine.body.client_id}/disable`)).status).toBe(403);
  });

  it('keeps agency administrators to their own agency in the console too', async () => {
    const theirs = (await agencyB.api('POST', '/clients', clientInput(B))).body.client_id as string;
    const mine = (await agencyA.api('POST', '/clients', clientInput(A))).body.client_id as string;
    const console = await consoleSignIn(app, agencyA);
    const list = await (await console.request(`${app.issuer}/admin/clients`)).text();
    expect(list).toContain(mine);
    expect(list).not.toContain(theirs);
    const page = await console.request(`${app.issuer}/admin/clients/${theirs}`);
    expect(page.status).toBe(404);
    const csrf = csrfFrom(
      await (await console.request(`${app.issuer}/admin/clients/${mine}`)).text(),
    );
    for (const action of ['disable', 'rotate-secret', 'delete']) {
      const res = await console.request(`${app.issuer}/admin/clients/${theirs}/${action}`, {
        method: 'POST',
        form: { _csrf: csrf, confirm: 'yes' },
      });
      expect(res.status, action).toBe(404);
    }
    expect((await app.services.clients.find(theirs))?.status).toBe('draft');
    // Their own: disabled from the console, with the console recorded as the channel.
    const disable = await console.request(`${app.issuer}/admin/clients/${mine}/disable`, {
      method: 'POST',
      form: { _csrf: csrf, confirm: 'yes' }, // disabling needs the ticked confirmation
    });
    expect(disable.status).toBe(302);
    expect((await app.services.clients.find(mine))?.status).toBe('disabled');
    const [record] = (
      await platform.api('GET', `/audit?action=clients.disabled&subject=client:${mine}`)
    ).body.items;
    expect(record).toMatchObject({
      actor: `admin:${agencyA.account.id}`,
      details: { via: 'console', agency: A },
    });
    // And the pages an agency administrator may not use are refused.
    expect((await console.request(`${app.issuer}/admin/admins`)).status).toBe(403);
    expect((await console.request(`${app.issuer}/admin/dcr`)).status).toBe(403);
  });

  it('lets a platform administrator review and enable a draft, which then reaches the engine', async () => {
    const draft = await agencyA.api(
      'POST',
      '/clients',
      clientInput(A, {
        token_endpoint_auth_method: 'none',
        redirect_uris: ['http://localhost:4999/cb'],
        grant_types: ['authorization_code'],
      }),
    );
    expect(draft.body.status).toBe('draft');
    const authorize = `${app.issuer}/auth?${new URLSearchParams({ client_id: draft.body.client_id, response_type: 'code', scope: 'openid', redirect_uri: 'http://localhost:4999/cb', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' })}`;
    const before = await fetch(authorize, { redirect: 'manual' });
    expect(before.status).toBe(400);
    expect(await before.text()).toContain('invalid_client');
    const enabled = await platform.api('POST', `/clients/${draft.body.client_id}/enable`);
    expect(enabled.status).toBe(200);
    expect(enabled.body.status).toBe('active');
    const after = await fetch(authorize, { redirect: 'manual' });
    expect(after.status).toBe(303);
    expect(after.headers.get('location')).toMatch(/^\/interaction\//);
    // Who reviewed, from where, before and after: in the audit record.
    const audit = await platform.api(
      'GET',
      `/audit?action=clients.enabled&subject=${encodeURIComponent(`client:${draft.body.client_id}`)}`,
    );
    expect(audit.body.items[0]).toMatchObject({
      actor: `admin:${platform.account.id}`,
      ip: expect.any(String),
      details: { agency: A, before: { status: 'draft' }, after: { status: 'active' }, via: 'api' },
    });
  });

  it('lets a platform administrator return a draft with a reason (audited), not an agency administrator', async () => {
    const draft = await agencyA.api(
      'POST',
      '/clients',
      clientInput(A, {
        token_endpoint_auth_method: 'none',
        redirect_uris: ['http://localhost:4998/cb'],
      }),
    );
    const path = `/clients/${draft.body.client_id}/return`;
    expect((await agencyA.api('POST', path, { reason: 'mine' })).status).toBe(403);
    const empty = await platform.api('POST', path, { reason: '  ' });
    expect(empty.status).toBe(400);
    expect(empty.body.field).toBe('reason');
    const returned = await platform.api('POST', path, { reason: 'Add the privacy policy URI.' });
    expect(returned.status).toBe(200);
    expect(returned.body.status).toBe('draft');
    const audit = await agencyA.api(
      'GET',
      `/audit?action=clients.review.returned&subject=${encodeURIComponent(`client:${draft.body.client_id}`)}`,
    );
    expect(audit.body.items[0]).toMatchObject({
      actor: `admin:${platform.account.id}`,
      details: { agency: A, reason: 'Add the privacy policy URI.', via: 'api' },
    });
    // Only a draft goes back.
    await platform.api('POST', `/clients/${draft.body.client_id}/enable`);
    expect((await platform.api('POST', path, { reason: 'late' })).status).toBe(409);
  });

  it.each([
    [
      'a wildcard redirect URI',
      { redirect_uris: ['https://*.example.go.kr/cb'] },
      'redirect_uris.0',
      /wildcard/,
    ],
    [
      'an http redirect URI',
      { redirect_uris: ['http://portal.example.go.kr/cb'] },
      'redirect_uris.0',
      /https/,
    ],
    [
      'a redirect URI with a fragment',
      { redirect_uris: ['https://portal.example.go.kr/cb#x'] },
      'redirect_uris.0',
      /fragment/,
    ],
    ['an unknown grant type', { grant_types: ['implicit'] }, 'grant_types.0', /./],
    [
      'a private key in jwks',
      {
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA', d: 'AAAA' }] },
      },
      'jwks.keys.0',
      /public keys only/,
    ],
    [
      'an unusable key in jwks',
      {
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'not-a-point', y: 'AAAA' }] },
      },
      'jwks.keys.0',
      /not a valid public key/,
    ],
    [
      'an empty jwks',
      { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [] } },
      'jwks.keys',
      /at least one key/,
    ],
    [
      'private_key_jwt without keys',
      { token_endpoint_auth_method: 'private_key_jwt' },
      'jwks_uri',
      /jwks_uri or jwks/,
    ],
    [
      'an http sector_identifier_uri, even on localhost',
      { sector_identifier_uri: 'http://localhost:4000/sector.json' },
      'sector_identifier_uri',
      /https/,
    ],
    [
      'an http back-channel logout URI',
      { backchannel_logout_uri: 'http://portal.example.go.kr/logout' },
      'backchannel_logout_uri',
      /https/,
    ],
    [
      'an unknown claim',
      {
        allowed_claims: [
          {
            claim: 'blood_type',
            purpose: { ko: '확인', en: 'Checking' },
            required: true,
            retention_days: 30,
          },
        ],
      },
      'allowed_claims',
      /catalogue/,
    ],
    [
      'a field One-ID does not offer',
      { frontchannel_logout_uri: 'https://portal.example.go.kr/fcl' },
      'frontchannel_logout_uri',
      /use backchannel_logout_uri/,
    ],
  ])('refuses %s with problem+json naming the field', async (_case, overrides, field, message) => {
    const res = await platform.api('POST', '/clients', clientInput(A, overrides));
    expect(res.status).toBe(400);
    expect(res.type).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({
      type: 'urn:one-id:problem:invalid-client-metadata',
      title: 'Invalid client metadata',
      status: 400,
      field,
    });
    expect(res.body.detail).toMatch(message);
    expect(res.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
  });

  it('validates edits with the same rules, and audits before and after', async () => {
    const created = await platform.api('POST', '/clients', clientInput(A));
    const id = created.body.client_id;
    const bad = await agencyA.api('PUT', `/clients/${id}`, {
      ...clientInput(A, { client_id: undefined }),
      redirect_uris: ['https://x.example.go.kr/*'],
    });
    expect(bad.status).toBe(400);
    expect(bad.body.field).toBe('redirect_uris.0');
    const good = await agencyA.api('PUT', `/clients/${id}`, {
      client_name: '새 이름',
      redirect_uris: ['https://new.example.go.kr/cb'],
      token_endpoint_auth_method: 'client_secret_basic',
    });
    expect(good.status).toBe(200);
    expect(good.body.metadata).toMatchObject({
      client_name: '새 이름',
      redirect_uris: ['https://new.example.go.kr/cb'],
    });
    expect(good.body.client_secret).toBeUndefined(); // the existing secret is kept, never shown again
    const [record] = (
      await platform.api('GET', `/audit?action=clients.updated&subject=client:${id}`)
    ).body.items;
    expect(record).toMatchObject({
      actor: `admin:${agencyA.account.id}`,
      details: {
        agency: A,
        before: { metadata: { client_name: '민원 포털' } },
        after: { metadata: { client_name: '새 이름' } },
      },
    });
  });

  it('paginates every list with keyset cursors', async () => {
    const agency = unique('페이지기관');
    const prefix = unique('page');
    for (let i = 0; i < 5; i += 1)
      expect(
        (
          await platform.api(
            'POST',
            '/clients',
            clientInput(agency, { client_id: `${prefix}-${i}` }),
          )
        ).status,
      ).toBe(201);
    const seen: string[] = [];
    let path = `/clients?agency=${encodeURIComponent(agency)}&limit=2`;
    for (let pages = 0; pages < 5; pages += 1) {
      const res = await platform.api('GET', path);
      expect(res.status).toBe(200);
      seen.push(...res.body.items.map((c: { client_id: string }) => c.client_id));
      if (!res.body.next) break;
      expect(res.headers.get('link')).toContain('rel="next"');
      path = `/clients?agency=${encodeURIComponent(agency)}&limit=2&after=${res.body.next}`;
    }
    expect(seen).toEqual([0, 1, 2, 3, 4].map((i) => `${prefix}-${i}`));
    const audit1 = await platform.api('GET', '/audit?limit=3');
    const audit2 = await platform.api('GET', `/audit?limit=3&after=${audit1.body.next}`);
    expect(Number(audit2.body.items[0].id)).toBeLessThan(Number(audit1.body.items[2].id));
    expect((await platform.api('GET', '/agencies?limit=1')).body.next).toBeTruthy();
    expect((await platform.api('GET', '/admins?limit=1')).body.next).toBeTruthy();
    const bad = await platform.api('GET', '/clients?limit=5000');
    expect(bad.status).toBe(400);
    expect(bad.body.field).toBe('limit');
  });

  it('rotates secrets, soft-deletes (audited, id never reused) and manages roles and tokens', async () => {
    const created = await platform.api('POST', '/clients', clientInput(A));
    const rotated = await agencyA.api('POST', `/clients/${created.body.client_id}/secret`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.client_secret).not.toBe(created.body.client_secret);
    expect(new Date(rotated.body.previous_secret_valid_until).getTime()).toBeGreaterThan(
      Date.now(),
    );
    expect((await agencyA.api('DELETE', `/clients/${created.body.client_id}`)).status).toBe(204);
    expect((await platform.api('GET', `/clients/${created.body.client_id}`)).status).toBe(404);
    const again = await platform.api('POST', '/clients', {
      ...clientInput(A),
      client_id: created.body.client_id,
    });
    expect(again.status).toBe(409);
    expect(again.body.field).toBe('client_id');
    const deleted = await platform.api(
      'GET',
      `/audit?action=clients.deleted&subject=client:${created.body.client_id}`,
    );
    expect(deleted.body.items[0].details).toMatchObject({
      agency: A,
      before: { status: 'active' },
    });

    // Roles: only a platform administrator grants; an agency role needs an agency.
    expect(
      (await agencyA.api('POST', '/admins', { account_id: agencyB.account.id, role: 'platform' }))
        .status,
    ).toBe(403);
    const noAgency = await platform.api('POST', '/admins', {
      account_id: agencyB.account.id,
      role: 'agency',
    });
    expect(noAgency.status).toBe(400);
    expect(noAgency.body.field).toBe('agency');
    const granted = await platform.api('POST', '/admins', {
      account_id: agencyB.account.id,
      role: 'auditor',
    });
    expect(granted.status).toBe(201);
    expect((await platform.api('DELETE', `/admins/${granted.body.id}`)).status).toBe(204);

    // DCR initial access tokens are the platform's to issue.
    expect((await agencyA.api('POST', '/dcr/tokens', { agency: A })).status).toBe(403);
    const token = await platform.api('POST', '/dcr/tokens', { agency: A, days: 7 });
    expect(token.status).toBe(201);
    expect(token.body.initial_access_token).toMatch(/^[\w-]{43}$/);
    expect((await platform.api('DELETE', `/dcr/tokens/${token.body.id}`)).status).toBe(204);
  });

  it('needs a recent sign-in for changes, and says so (RFC 9470)', async () => {
    const token = await adminToken(app, agencyA);
    // The token's sign-in, an hour ago (as if the administrator had stayed signed in since).
    const store = (
      app.provider().AccessToken as unknown as {
        adapter: {
          find: (id: string) => Promise<Record<string, unknown>>;
          upsert: (id: string, p: object, ttl: number) => Promise<void>;
        };
      }
    ).adapter;
    const payload = await store.find(token);
    await store.upsert(
      token,
      {
        ...payload,
        extra: { ...(payload.extra as object), auth_time: Math.floor(Date.now() / 1000) - 3600 },
      },
      300,
    );
    const api = apiClient(app, token);
    expect((await api('GET', '/clients')).status).toBe(200);
    const change = await api('POST', '/clients', clientInput(A));
    expect(change.status).toBe(401);
    expect(change.body.code).toBe('ERR_REAUTH_REQUIRED');
    expect(change.headers.get('www-authenticate')).toMatch(
      /error="insufficient_user_authentication".*max_age=300/,
    );
    // An auditor's token carries admin:read only.
    const me = await auditor.api('GET', '/me');
    expect(me.body.scopes).toEqual(['admin:read']);
  });

  it('publishes an OpenAPI 3.1 document describing every route', async () => {
    const res = await fetch(`${app.issuer}/admin/api/openapi.json`);
    expect(res.status).toBe(200);
    const doc = await res.json();
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.servers[0].url).toBe(`${app.issuer}/admin/api`);
    const routes = app.http.middleware.length ? listApiRoutes(app) : [];
    expect(routes.length).toBeGreaterThan(15);
    for (const [method, path] of routes)
      expect(doc.paths[path]?.[method], `${method} ${path}`).toBeDefined();
    expect(
      Object.keys(doc.components.securitySchemes.oneId.flows.authorizationCode.scopes),
    ).toEqual(['admin:read', 'admin:write']);
  });
});

/** The API routes the server registered, as OpenAPI paths. */
const listApiRoutes = (app: TestApp): [string, string][] => {
  const router = app.http.middleware
    .map((m) => (m as { router?: { stack: { path: string; methods: string[] }[] } }).router)
    .find(Boolean)!;
  return router.stack
    .filter(
      (l) =>
        l.path.startsWith('/admin/api/') &&
        !l.path.includes('(.*)') &&
        l.path !== '/admin/api/openapi.json',
    )
    .flatMap((l) =>
      l.methods
        .filter((m) => m !== 'HEAD')
        .map(
          (m) =>
            [m.toLowerCase(), l.path.slice('/admin/api'.length).replace(/:(\w+)/g, '{$1}')] as [
              string,
              string,
            ],
        ),
    );
};
