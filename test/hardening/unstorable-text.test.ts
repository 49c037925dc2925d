// Text the database cannot store: a lone UTF-16 surrogate ("\ud800", which jsonb refuses and text
// would turn into U+FFFD) and U+0000, anywhere in a JSON body the app stores (client metadata, an
// agency, allowances and their purposes, a manifest). Each is refused with problem+json naming the
// field, never a 500 (issue 13).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import {
  clientInput,
  createAdmin,
  ensureAgency,
  unique,
  type ApiResponse,
} from '../admin/support.ts';

let app: TestApp;
let api: (method: string, path: string, body?: unknown) => Promise<ApiResponse>;
let clientId: string;
const AGENCY = '행정안전부';

const allowance = (claim: string, purpose = '본인 확인') => ({
  claim,
  purpose: { ko: purpose, en: 'Identifying you' },
  required: true,
  retention_days: 30,
});

beforeAll(async () => {
  app = await startTestApp({ RATE_LIMIT_ADMIN_PER_MINUTE: '10000' });
  await ensureAgency(app, AGENCY);
  api = (await createAdmin(app, 'platform')).api;
  const created = await api('POST', '/clients', clientInput(AGENCY));
  expect(created.status).toBe(201);
  clientId = created.body.client_id as string;
});
afterAll(() => app?.stop());

// JSON.stringify keeps a lone surrogate as the escape `\ud800`, as an attacker would send it.
const LONE = '\ud800';
const NUL = '\u0000';

describe('unstorable text in the admin API', () => {
  const cases: [string, string, () => string, unknown, string][] = [
    ['client_name', 'POST', () => '/clients', { client_name: `a${LONE}` }, 'client_name'],
    ['agency', 'POST', () => '/clients', { agency: `${AGENCY}${LONE}` }, 'agency'],
    ['a key', 'POST', () => '/clients', { [`x${LONE}`]: 1 }, `x${LONE}`],
    [
      'client_name on update',
      'PUT',
      () => `/clients/${clientId}`,
      { client_name: LONE },
      'client_name',
    ],
  ];
  it.each(cases)('refuses a lone surrogate in %s', async (_name, method, path, patch, field) => {
    const body = method === 'POST' ? clientInput(AGENCY, patch as Record<string, unknown>) : patch;
    const res = await api(method, path(), body);
    expect(res.status).toBe(400);
    expect(res.type).toMatch(/application\/problem\+json/);
    expect(res.body.field).toBe(field);
  });

  it('refuses a lone surrogate or a NUL in allowances, naming the field', async () => {
    for (const [text, what] of [
      [LONE, 'lone surrogate'],
      [NUL, 'NUL'],
    ] as const) {
      const res = await api('PUT', `/clients/${clientId}/allowances`, [
        allowance('name'),
        allowance('email', `확인${text}`),
      ]);
      expect(res.status, what).toBe(400);
      expect(res.type).toMatch(/application\/problem\+json/);
      expect(res.body.field, what).toBe('[1].purpose.ko');
    }
    // The well-formed list is still stored.
    const ok = await api('PUT', `/clients/${clientId}/allowances`, [allowance('name')]);
    expect(ok.status).toBe(200);
  });

  it('refuses a lone surrogate in an agency and in a manifest', async () => {
    const agency = await api('PUT', `/agencies/${encodeURIComponent(unique('기관'))}`, {
      name_en: `Agency ${LONE}`,
    });
    expect(agency.status).toBe(400);
    expect(agency.body.field).toBe('name_en');
    for (const text of [LONE, NUL]) {
      const manifest = await api('POST', '/manifest?dry_run=true', {
        version: 1,
        agencies: [{ name: AGENCY, name_en: `Interior${text}` }],
        systems: [],
      });
      expect(manifest.status, JSON.stringify(text)).toBe(400);
      expect(manifest.type).toMatch(/application\/problem\+json/);
      expect(manifest.body.field).toBe('agencies[0].name_en');
    }
  });
});
