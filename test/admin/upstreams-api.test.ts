// Upstream identity providers through the admin API: platform administrators register, edit and
// disable them (validated and audited like the CLI); agency administrators cannot.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { createAdmin, unique, type Admin } from './support.ts';

let app: TestApp;
let platform: Admin;
let agencyAdmin: Admin;

beforeAll(async () => {
  app = await startTestApp();
  platform = await createAdmin(app, 'platform');
  agencyAdmin = await createAdmin(app, 'agency', unique('agency'));
});
afterAll(() => app?.stop());

const upstream = (id: string) => ({
  id,
  issuer: 'https://mobile-id.example.go.kr',
  client_id: 'one-id',
  client_secret: 'a-secret-the-upstream-issued-us-0123456789',
  scopes: ['openid', 'profile'],
  acr: 'urn:one-id:loa:substantial',
  claims: { name: 'name' },
  display_name: { ko: '모바일 신분증', en: 'Mobile ID' },
});

describe('admin API: upstream identity providers', () => {
  it('lets a platform administrator add, list, update and disable one, never showing the secret', async () => {
    const id = unique('mid');
    const created = await platform.api('POST', '/upstreams', upstream(id));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(JSON.stringify(created.body)).not.toContain('a-secret-the-upstream');
    const listed = await platform.api('GET', '/upstreams');
    expect(listed.body.items.map((u: { id: string }) => u.id)).toContain(id);
    const disabled = await platform.api('POST', `/upstreams/${id}/disable`);
    expect(disabled.body, JSON.stringify(disabled.body)).toEqual({ id, status: 'disabled' });
    const audit = await app.knex('audit_events').where('action', 'like', 'federation.upstream%').andWhere('subject', 'like', `%${id}%`);
    expect(audit.length).toBeGreaterThanOrEqual(2);
  });

  it('answers a bad registration with problem+json naming the field', async () => {
    const bad = await platform.api('POST', '/upstreams', { ...upstream(unique('bad')), issuer: 'not a url' });
    expect(bad.status).toBe(400);
    expect(bad.type).toMatch(/application\/problem\+json/);
    expect(JSON.stringify(bad.body)).toContain('issuer');
  });

  it('refuses agency administrators', async () => {
    expect((await agencyAdmin.api('GET', '/upstreams')).status).toBe(403);
    expect((await agencyAdmin.api('POST', '/upstreams', upstream('nope'))).status).toBe(403);
  });
});
