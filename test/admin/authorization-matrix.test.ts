// The admin API's authorization matrix, derived from its OpenAPI document: every documented
// operation is tried by every kind of caller (no token, a bad token, an account without a role,
// tokens short of a scope or of a recent sign-in, administrators and auditors of another agency
// and of the owning one, a platform-wide auditor) against agency B's resources. Refusals are
// problem+json and never 5xx, another agency's systems are not found (404, no probing), nothing
// about B reaches A, and the refused requests change nothing. Then the platform administrator
// (and A's administrator, on A's own systems) succeeds on each, on fixtures of its own.
// A documented operation without an entry in OPS fails the first test, by name.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { enrolCitizen } from '../support/flows.ts';
import {
  adminToken,
  clientInput,
  createAdmin,
  unique,
  type Admin,
  type ApiResponse,
} from './support.ts';

let app: TestApp;
let platform: Admin;
let agencyA: Admin;
let agencyB: Admin;
let citizen: Awaited<ReturnType<typeof enrolCitizen>>;
const A = unique('행정안전부');
const B = unique('보건복지부');

const CALLERS = [
  'no token',
  'invalid token',
  'no role',
  'no admin scope',
  'read-only scope',
  'stale sign-in',
  'agency A',
  'auditor A',
  'agency B',
  'auditor B',
  'auditor (all)',
] as const;
type Caller = (typeof CALLERS)[number];
const tokens = {} as Record<Caller, string | undefined>;

/** Agency B's resources, made by the platform administrator: what every caller is tried on. */
type Fixtures = {
  client: string;
  draft: string;
  grant: string;
  dcrToken: string;
  upstream: string;
  disabledUpstream: string;
  intruder: string;
  owner: string;
};
let f: Fixtures;
/** An existing active system of each agency (with allowed claims). */
const systems: Record<string, string> = {};

type Req = { params?: Record<string, string>; query?: Record<string, string>; body?: unknown };
/** Who succeeds (on `agency`'s resources), with fresh fixtures so that nothing above is disturbed. */
type Success = Req & { status: number; expectBody?: (body: any) => void };
type SuccessContext = { agency: string; fresh: (status?: 'draft') => Promise<string> };
type Op = {
  access: 'read' | 'write';
  /** scoped: any administrator, within its agencies; global: platform administrators and platform-wide auditors; platform: platform administrators only. */
  who: 'scoped' | 'global' | 'platform';
  /** The request names one of B's systems or B itself, which another agency's administrators may not know of (404). */
  ofB?: true;
  probe: (f: Fixtures) => Req;
  succeed: (s: SuccessContext) => Promise<Success>;
};

const allowance = (claim: string) => ({
  claim,
  purpose: { ko: '본인 확인', en: 'Identifying you' },
  required: true,
  retention_days: 30,
});
const upstreamInput = (id: string) => ({
  id,
  issuer: `https://${id}.example.go.kr`,
  client_id: 'one-id',
  client_secret: 'a-secret-the-upstream-issued-us-0123456789',
  scopes: ['openid'],
  acr: 'urn:one-id:loa:substantial',
  claims: { name: 'name' },
  display_name: { ko: '모바일 신분증', en: 'Mobile ID' },
});
const manifest = (agency: string, clientId: string) => ({
  version: 1,
  agencies: [{ name: agency, name_en: 'Changed by a manifest' }],
  systems: [
    {
      ...clientInput(agency, { client_id: clientId, client_name: '바뀐 이름' }),
      status: 'disabled',
    },
  ],
});
const created = async (res: Promise<ApiResponse>, what: string) => {
  const { status, body } = await res;
  if (status !== 201 && status !== 200)
    throw new Error(`fixture ${what}: ${status} ${JSON.stringify(body)}`);
  return String(body.id ?? body.client_id);
};
const freshUpstream = async (disabled = false) => {
  const id = await created(
    platform.api('POST', '/upstreams', upstreamInput(unique('mid'))),
    'upstream',
  );
  if (disabled)
    await created(platform.api('POST', `/upstreams/${id}/disable`), 'disabled upstream');
  return id;
};

/**
 * An action on one of B's systems (`draft`: on a draft one): tried on B's, and done on a fresh
 * system of the succeeding administrator's agency.
 */
const systemAction = (
  status: number,
  { who = 'scoped', draft, body }: { who?: Op['who']; draft?: true; body?: unknown } = {},
): Op => ({
  access: 'write',
  who,
  ofB: true,
  probe: (x) => ({ params: { id: draft ? x.draft : x.client }, body }),
  succeed: async (s) => ({
    params: { id: await s.fresh(draft && 'draft') },
    body,
    status,
  }),
});

/** Every operation of the OpenAPI document: how to try it on B, and how it succeeds. Keys are `method path` as documented. */
const OPS: Record<string, Op> = {
  'get /me': {
    access: 'read',
    who: 'scoped',
    probe: () => ({}),
    succeed: async () => ({ status: 200 }),
  },
  'get /agencies': {
    access: 'read',
    who: 'scoped',
    probe: () => ({ query: { limit: '200' } }),
    succeed: async (s) => ({
      query: { limit: '200' },
      status: 200,
      expectBody: (b) => expect(b.items.map((a: { name: string }) => a.name)).toContain(s.agency),
    }),
  },
  'get /agencies/{name}': {
    access: 'read',
    who: 'scoped',
    ofB: true,
    probe: () => ({ params: { name: B } }),
    succeed: async (s) => ({ params: { name: s.agency }, status: 200 }),
  },
  'put /agencies/{name}': {
    access: 'write',
    who: 'platform',
    probe: () => ({
      params: { name: B },
      body: { name_en: 'Changed', contact: 'it@changed.go.kr' },
    }),
    succeed: async () => ({
      params: { name: unique('새기관') },
      body: { name_en: 'A new agency' },
      status: 201,
    }),
  },
  'get /clients': {
    access: 'read',
    who: 'scoped',
    probe: () => ({ query: { agency: B, limit: '200' } }),
    succeed: async (s) => ({
      query: { agency: s.agency, limit: '200' },
      status: 200,
      expectBody: (b) =>
        expect(b.items.map((c: { client_id: string }) => c.client_id)).toContain(systems[s.agency]),
    }),
  },
  'post /clients': {
    access: 'write',
    who: 'scoped',
    probe: () => ({ body: clientInput(B) }),
    succeed: async (s) => ({ body: clientInput(s.agency), status: 201 }),
  },
  'get /clients/{id}': {
    access: 'read',
    who: 'scoped',
    ofB: true,
    probe: (x) => ({ params: { id: x.client } }),
    succeed: async (s) => ({
      params: { id: systems[s.agency]! },
      status: 200,
      expectBody: (b) => expect(b.allowed_claims).toEqual([allowance('name')]),
    }),
  },
  'put /clients/{id}': {
    access: 'write',
    who: 'scoped',
    ofB: true,
    probe: (x) => ({
      params: { id: x.client },
      body: clientInput(B, { client_id: undefined, client_name: '바뀐 이름' }),
    }),
    succeed: async (s) => ({
      params: { id: await s.fresh() },
      body: clientInput(s.agency, { client_id: undefined, client_name: '바뀐 이름' }),
      status: 200,
    }),
  },
  'delete /clients/{id}': systemAction(204),
  'post /clients/{id}/disable': systemAction(200),
  'post /clients/{id}/enable': systemAction(200, { who: 'platform', draft: true }),
  'post /clients/{id}/return': systemAction(200, {
    who: 'platform',
    draft: true,
    body: { reason: 'Add the privacy policy URI.' },
  }),
  'post /clients/{id}/secret': systemAction(200),
  'put /clients/{id}/allowances': {
    access: 'write',
    who: 'scoped',
    ofB: true,
    probe: (x) => ({ params: { id: x.client }, body: [allowance('name'), allowance('email')] }),
    succeed: async (s) => ({
      params: { id: await s.fresh() },
      body: [allowance('email')],
      status: 200,
    }),
  },
  'get /admins': {
    access: 'read',
    who: 'global',
    probe: (x) => ({ query: { account_id: x.owner } }),
    succeed: async () => ({ status: 200 }),
  },
  // Agency A's administrator granting itself agency B (an escalation) when it is the caller.
  'post /admins': {
    access: 'write',
    who: 'platform',
    probe: (x) => ({ body: { account_id: x.intruder, role: 'agency', agency: B } }),
    succeed: async (s) => ({
      body: { account_id: citizen.account.id, role: 'auditor', agency: s.agency },
      status: 201,
    }),
  },
  'delete /admins/{id}': {
    access: 'write',
    who: 'platform',
    probe: (x) => ({ params: { id: x.grant } }),
    succeed: async () => ({
      params: {
        id: await created(
          platform.api('POST', '/admins', {
            account_id: citizen.account.id,
            role: 'auditor',
            agency: A,
          }),
          'grant',
        ),
      },
      status: 204,
    }),
  },
  'get /audit': {
    access: 'read',
    who: 'scoped',
    probe: () => ({ query: { agency: B, limit: '200' } }),
    succeed: async (s) => ({
      query: { agency: s.agency, limit: '200' },
      status: 200,
      expectBody: (b) => {
        expect(b.items.length).toBeGreaterThan(0);
        expect(
          b.items.every((r: { details: { agency?: string } }) => r.details.agency === s.agency),
        ).toBe(true);
      },
    }),
  },
  'get /audit/export': {
    access: 'read',
    who: 'scoped',
    probe: () => ({ query: { agency: B, format: 'jsonl' } }),
    succeed: async (s) => ({
      query: { agency: s.agency, format: 'csv' },
      status: 200,
      expectBody: (b) => expect(String(b)).toContain(s.agency),
    }),
  },
  'get /manifest': {
    access: 'read',
    who: 'global',
    probe: () => ({}),
    succeed: async () => ({
      status: 200,
      expectBody: (b) => expect(JSON.stringify(b)).toContain(systems[B]),
    }),
  },
  'post /manifest': {
    access: 'write',
    who: 'platform',
    probe: (x) => ({ body: manifest(B, x.client) }),
    succeed: async () => ({
      body: manifest(unique('목록기관'), unique('sys')),
      status: 200,
      expectBody: (b) => expect(b.applied).toBe(true),
    }),
  },
  'get /dcr/tokens': {
    access: 'read',
    who: 'platform',
    probe: () => ({ query: { agency: B } }),
    succeed: async (s) => ({
      query: { agency: s.agency },
      status: 200,
      expectBody: (b) => expect(b.items.length).toBeGreaterThan(0),
    }),
  },
  'post /dcr/tokens': {
    access: 'write',
    who: 'platform',
    probe: () => ({ body: { agency: B, days: 7 } }),
    succeed: async (s) => ({ body: { agency: s.agency, days: 7 }, status: 201 }),
  },
  'delete /dcr/tokens/{id}': {
    access: 'write',
    who: 'platform',
    probe: (x) => ({ params: { id: x.dcrToken } }),
    succeed: async (s) => ({
      params: {
        id: await created(platform.api('POST', '/dcr/tokens', { agency: s.agency }), 'DCR token'),
      },
      status: 204,
    }),
  },
  'get /upstreams': {
    access: 'read',
    who: 'platform',
    probe: () => ({}),
    succeed: async () => ({ status: 200 }),
  },
  'post /upstreams': {
    access: 'write',
    who: 'platform',
    probe: () => ({ body: upstreamInput(unique('mid')) }),
    succeed: async () => ({ body: upstreamInput(unique('mid')), status: 201 }),
  },
  'put /upstreams/{id}': {
    access: 'write',
    who: 'platform',
    probe: (x) => ({
      params: { id: x.upstream },
      body: { ...upstreamInput(x.upstream), display_name: { ko: '바뀜', en: 'Changed' } },
    }),
    succeed: async () => {
      const id = await freshUpstream();
      return {
        params: { id },
        body: { ...upstreamInput(id), display_name: { ko: '바뀜', en: 'Changed' } },
        status: 200,
      };
    },
  },
  'post /upstreams/{id}/disable': {
    access: 'write',
    who: 'platform',
    probe: (x) => ({ params: { id: x.upstream } }),
    succeed: async () => ({ params: { id: await freshUpstream() }, status: 200 }),
  },
  'post /upstreams/{id}/enable': {
    access: 'write',
    who: 'platform',
    probe: (x) => ({ params: { id: x.disabledUpstream } }),
    succeed: async () => ({ params: { id: await freshUpstream(true) }, status: 200 }),
  },
};

const NOT_FOUND = ['ERR_CLIENT_UNKNOWN', 'ERR_AGENCY_UNKNOWN', 'ERR_NOT_FOUND'];
// Auditors' tokens carry admin:read only, so their changes stop at the scope.
const FORBIDDEN = ['ERR_ADMIN_FORBIDDEN', 'ERR_INSUFFICIENT_SCOPE'];
type Outcome = { refused: number[]; codes: string[] } | 'allowed' | 'skip';
const refused = (status: number | number[], codes: string | string[]): Outcome => ({
  refused: [status].flat(),
  codes: [codes].flat(),
});

/** What `caller` must get for `op` tried on B's resources. */
const expected = (caller: Caller, op: Op): Outcome => {
  const read = op.access === 'read';
  switch (caller) {
    case 'no token':
      return refused(401, 'ERR_UNAUTHENTICATED');
    case 'invalid token':
      return refused(401, 'ERR_INVALID_TOKEN');
    case 'no role':
      return refused(403, 'ERR_NOT_ADMIN');
    case 'no admin scope':
      return refused(403, 'ERR_INSUFFICIENT_SCOPE');
    // A platform administrator's token, short of admin:write or of a recent sign-in (RFC 9470).
    case 'read-only scope':
      return read ? 'allowed' : refused(403, 'ERR_INSUFFICIENT_SCOPE');
    case 'stale sign-in':
      return read ? 'allowed' : refused(401, 'ERR_REAUTH_REQUIRED');
    case 'auditor (all)':
      return read && op.who !== 'platform' ? 'allowed' : refused(403, FORBIDDEN);
    // The owning agency's own: only what is not theirs to do is tried (their changes are theirs).
    case 'agency B':
      return op.who === 'scoped' ? (read ? 'allowed' : 'skip') : refused(403, FORBIDDEN);
    case 'auditor B':
      return read && op.who === 'scoped' ? 'allowed' : refused(403, FORBIDDEN);
    // Another agency's: B's systems do not exist for them, whatever the operation.
    case 'agency A':
      return op.ofB
        ? refused(404, NOT_FOUND)
        : op.who === 'scoped' && read
          ? 'allowed'
          : refused(403, FORBIDDEN);
    case 'auditor A':
      if (op.ofB)
        return read ? refused(404, NOT_FOUND) : refused([403, 404], [...FORBIDDEN, ...NOT_FOUND]);
      return op.who === 'scoped' && read ? 'allowed' : refused(403, FORBIDDEN);
  }
};

const fill = (template: string, params: Record<string, string> = {}) =>
  template.replace(/\{(\w+)\}/g, (_, name: string) => {
    if (params[name] === undefined) throw new Error(`no value for {${name}} in ${template}`);
    return encodeURIComponent(params[name]);
  });

const send = async (token: string | undefined, key: string, r: Req): Promise<ApiResponse> => {
  const [method, template] = key.split(' ') as [string, string];
  const url = new URL(`${app.issuer}/admin/api${fill(template, r.params)}`);
  for (const [name, value] of Object.entries(r.query ?? {})) url.searchParams.set(name, value);
  const res = await fetch(url, {
    method: method.toUpperCase(),
    headers: {
      ...(token && { authorization: `Bearer ${token}` }),
      ...(r.body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(r.body !== undefined && { body: JSON.stringify(r.body) }),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // exports (JSON lines, CSV)
  }
  return { status: res.status, type: res.headers.get('content-type'), headers: res.headers, body };
};

/** Sets the sign-in time an admin API token carries (as if its holder had signed in then). */
const setAuthTime = async (token: string, authTime: number) => {
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
    { ...payload, extra: { ...(payload.extra as object), auth_time: authTime } },
    300,
  );
};

/** The tables a refused request might have touched, and the audit records it might have written. */
const snapshot = async (actors: string[]) => {
  const rows = async (table: string) =>
    (await app.knex(table).select()).map((r) => JSON.stringify(r)).sort();
  const [{ count }] = await app
    .knex('audit_events')
    .whereIn('actor', actors)
    .orWhereRaw("details->>'agency' = ?", [B])
    .orWhere('subject', 'like', 'upstream:%')
    .count({ count: '*' });
  return {
    clients: await rows('clients'),
    client_claim_allowances: await rows('client_claim_allowances'),
    admin_roles: await rows('admin_roles'),
    agencies: await rows('agencies'),
    dcr_tokens: await rows('dcr_tokens'),
    upstream_providers: await rows('upstream_providers'),
    audit_events: Number(count),
  };
};

beforeAll(async () => {
  app = await startTestApp();
  platform = await createAdmin(app, 'platform');
  agencyA = await createAdmin(app, 'agency', A);
  agencyB = await createAdmin(app, 'agency', B);
  const [auditorA, auditorB, auditorAll] = [
    await createAdmin(app, 'auditor', A),
    await createAdmin(app, 'auditor', B),
    await createAdmin(app, 'auditor'),
  ];
  citizen = await enrolCitizen(app, { email: `${unique('citizen')}@example.com` });
  Object.assign(tokens, {
    'no token': undefined,
    'invalid token': 'not-a-token',
    'no role': await adminToken(app, citizen),
    'no admin scope': await adminToken(app, platform, 'openid'),
    'read-only scope': await adminToken(app, platform, 'openid admin:read'),
    'stale sign-in': await adminToken(app, platform),
    'agency A': agencyA.token,
    'auditor A': auditorA.token,
    'agency B': agencyB.token,
    'auditor B': auditorB.token,
    'auditor (all)': auditorAll.token,
  } satisfies Record<Caller, string | undefined>);
  // Refusals must be for the role, the agency or the scope, never for want of a recent sign-in.
  const now = Math.floor(Date.now() / 1000);
  for (const admin of [platform, agencyA, agencyB]) await setAuthTime(admin.token, now);
  await setAuthTime(tokens['stale sign-in']!, now - 3600);

  for (const agency of [A, B])
    systems[agency] = await created(
      platform.api(
        'POST',
        '/clients',
        clientInput(agency, { allowed_claims: [allowance('name')] }),
      ),
      `system of ${agency}`,
    );
  f = {
    client: systems[B]!,
    draft: await created(
      platform.api('POST', '/clients', clientInput(B, { status: 'draft' })),
      'draft',
    ),
    grant: String(
      (await app.knex('admin_roles').where({ account_id: agencyB.account.id, agency: B }).first())
        .id,
    ),
    dcrToken: await created(platform.api('POST', '/dcr/tokens', { agency: B }), 'DCR token'),
    upstream: await freshUpstream(),
    disabledUpstream: await freshUpstream(true),
    intruder: agencyA.account.id,
    owner: agencyB.account.id,
  };
});
afterAll(() => app?.stop());

const label = (key: string) => `${key.split(' ')[0]!.toUpperCase()} ${key.split(' ')[1]}`;

describe('admin API authorization matrix', () => {
  it('tries every operation of the OpenAPI document, and only those', async () => {
    const doc = await (await fetch(`${app.issuer}/admin/api/openapi.json`)).json();
    const documented = Object.entries(
      doc.paths as Record<string, Record<string, { security?: { oneId: string[] }[] }>>,
    ).flatMap(([path, item]) =>
      Object.keys(item)
        .filter((m) =>
          ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'].includes(m),
        )
        .map((m) => `${m} ${path}`),
    );
    const missing = documented.filter((k) => !OPS[k]);
    expect(
      missing,
      `operations in the OpenAPI document missing from the authorization matrix (add them to OPS): ${missing.map(label).join(', ')}`,
    ).toEqual([]);
    const stale = Object.keys(OPS).filter((k) => !documented.includes(k));
    expect(
      stale,
      `operations in the matrix that the OpenAPI document no longer has: ${stale.map(label).join(', ')}`,
    ).toEqual([]);
    // The matrix's reads and changes are the document's admin:read and admin:write.
    for (const key of documented) {
      const [method, path] = key.split(' ') as [string, string];
      expect(doc.paths[path][method].security, label(key)).toEqual([
        { oneId: [OPS[key]!.access === 'read' ? 'admin:read' : 'admin:write'] },
      ]);
    }
  });

  describe('refusals', () => {
    const actors = () => [platform, agencyA, agencyB].map((a) => `admin:${a.account.id}`);
    let before: Awaited<ReturnType<typeof snapshot>>;
    beforeAll(async () => {
      before = await snapshot(actors());
    });

    const cases = CALLERS.flatMap((caller) =>
      Object.keys(OPS).map((key) => ({ caller, key, name: `${caller} ${label(key)}` })),
    ).filter(({ caller, key }) => expected(caller, OPS[key]!) !== 'skip');
    it.each(cases)('$name', async ({ caller, key }) => {
      const op = OPS[key]!;
      const outcome = expected(caller, op);
      const res = await send(tokens[caller], key, op.probe(f));
      const seen = `${caller} ${label(key)}: ${res.status} ${JSON.stringify(res.body)}`;
      if (outcome === 'allowed') {
        expect(res.status, seen).toBeGreaterThanOrEqual(200);
        expect(res.status, seen).toBeLessThan(300);
        // Nothing about B reaches another agency's administrators or auditors.
        if (caller === 'agency A' || caller === 'auditor A') {
          for (const marker of [B, f.client, f.draft, f.owner])
            expect(JSON.stringify(res.body) ?? '', seen).not.toContain(marker);
        }
        return;
      }
      if (outcome === 'skip') return;
      expect(outcome.refused, seen).toContain(res.status);
      expect(res.type, seen).toMatch(/^application\/problem\+json/);
      expect(res.body, seen).toMatchObject({
        type: expect.stringMatching(/^urn:one-id:problem:/),
        title: expect.any(String),
        status: res.status,
        detail: expect.any(String),
      });
      expect(outcome.codes, seen).toContain(res.body.code);
      if (res.status === 401) {
        expect(res.headers.get('www-authenticate'), seen).toMatch(
          res.body.code === 'ERR_REAUTH_REQUIRED'
            ? /^Bearer error="insufficient_user_authentication".*max_age=\d+/
            : /^Bearer realm=/,
        );
      }
    });

    it('changes nothing through any refused request', async () => {
      const after = await snapshot(actors());
      for (const table of Object.keys(before) as (keyof typeof before)[])
        expect(after[table], table).toEqual(before[table]);
    });
  });

  describe('what is allowed', () => {
    const fresh = (agency: string) => async (status?: 'draft') =>
      created(
        platform.api(
          'POST',
          '/clients',
          clientInput(agency, { allowed_claims: [allowance('name')], ...(status && { status }) }),
        ),
        'fresh system',
      );
    const check = async (admin: Admin, key: string, agency: string) => {
      const { status, expectBody, ...r } = await OPS[key]!.succeed({
        agency,
        fresh: fresh(agency),
      });
      const res = await send(admin.token, key, r);
      expect(res.status, `${label(key)}: ${res.status} ${JSON.stringify(res.body)}`).toBe(status);
      expectBody?.(res.body);
    };
    it.each(Object.keys(OPS).map((key) => ({ key, name: `platform ${label(key)}` })))(
      '$name',
      ({ key }) => check(platform, key, B),
    );
    // The other side of the 404s above: A's administrator does all of it on A's own systems.
    it.each(
      Object.keys(OPS)
        .filter((key) => OPS[key]!.who === 'scoped')
        .map((key) => ({ key, name: `agency A on its own agency ${label(key)}` })),
    )('$name', ({ key }) => check(agencyA, key, A));
  });
});
