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
  issuer: `https://${id}.example.go.kr`,
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
    const audit = await app
      .knex('audit_events')
      .where('action', 'like', 'federation.upstream%')
      .andWhere('subject', 'like', `%${id}%`);
    expect(audit.length).toBeGreaterThanOrEqual(2);
  });

  it('lets a platform administrator replace the settings and enable it again, each change audited', async () => {
    const id = unique('mid');
    expect((await platform.api('POST', '/upstreams', upstream(id))).status).toBe(201);
    const before = await app.knex('upstream_providers').where({ id }).first();
    const { client_secret: _secret, ...withoutSecret } = upstream(id);
    const changed = {
      ...withoutSecret,
      scopes: ['openid', 'profile', 'phone'],
      claims: { name: 'name', birthdate: 'birthdate', phone_number: 'phone_number' },
      match: ['name', 'birthdate', 'phone_number'],
      display_name: { ko: '모바일 신분증 2', en: 'Mobile ID 2' },
    };
    const updated = await platform.api('PUT', `/upstreams/${id}`, changed);
    expect(updated.status, JSON.stringify(updated.body)).toBe(200);
    expect(updated.body).toMatchObject({
      id,
      status: 'active',
      hasClientSecret: true,
      matchRule: ['name', 'birthdate', 'phone_number'],
      displayName: { ko: '모바일 신분증 2', en: 'Mobile ID 2' },
    });
    // No client_secret in the body: the sealed one stays as it was.
    expect((await app.knex('upstream_providers').where({ id }).first()).client_secret_sealed).toBe(
      before.client_secret_sealed,
    );
    const [edit] = await app
      .knex('audit_events')
      .where({ action: 'federation.upstream.updated', subject: `upstream:${id}` });
    expect(edit).toMatchObject({
      actor: `admin:${platform.account.id}`,
      details: {
        via: 'api',
        secretChanged: false,
        before: { displayName: { en: 'Mobile ID' } },
        after: { displayName: { en: 'Mobile ID 2' } },
      },
    });
    expect(JSON.stringify(edit.details)).not.toContain('a-secret-the-upstream');

    // A bad edit changes nothing and names the field.
    const bad = await platform.api('PUT', `/upstreams/${id}`, {
      ...changed,
      acr: 'urn:one-id:loa:low',
    });
    expect(bad.status).toBe(400);
    expect(bad.type).toMatch(/application\/problem\+json/);
    expect(bad.body).toMatchObject({ code: 'ERR_INVALID_UPSTREAM', field: 'match' });
    expect((await app.knex('upstream_providers').where({ id }).first()).acr).toBe(
      'urn:one-id:loa:substantial',
    );
    expect(
      await app
        .knex('audit_events')
        .where({ action: 'federation.upstream.updated', subject: `upstream:${id}` }),
    ).toHaveLength(1);
    const missing = await platform.api('PUT', `/upstreams/${unique('none')}`, changed);
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ code: 'ERR_UPSTREAM_NOT_FOUND' });

    expect((await platform.api('POST', `/upstreams/${id}/disable`)).body).toEqual({
      id,
      status: 'disabled',
    });
    const enabled = await platform.api('POST', `/upstreams/${id}/enable`);
    expect(enabled.status).toBe(200);
    expect(enabled.body).toEqual({ id, status: 'active' });
    expect((await app.knex('upstream_providers').where({ id }).first()).status).toBe('active');
    expect(
      await app
        .knex('audit_events')
        .where({ action: 'federation.upstream.enabled', subject: `upstream:${id}` })
        .select('actor', 'details'),
    ).toEqual([
      {
        actor: `admin:${platform.account.id}`,
        details: { via: 'api', before: { status: 'disabled' }, after: { status: 'active' } },
      },
    ]);
    expect((await platform.api('POST', `/upstreams/${unique('none')}/enable`)).status).toBe(404);
  });

  it('lists them in pages (limit, after, next), like every admin list', async () => {
    const prefix = unique('page');
    const ids = [`${prefix}-a`, `${prefix}-b`, `${prefix}-c`];
    for (const id of ids)
      expect((await platform.api('POST', '/upstreams', upstream(id))).status).toBe(201);
    const seen: string[] = [];
    let path = '/upstreams?limit=2';
    for (let pages = 0; pages < 100; pages += 1) {
      const res = await platform.api('GET', path);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      for (const item of res.body.items) expect(item).not.toHaveProperty('clientSecretSealed');
      seen.push(...res.body.items.map((u: { id: string }) => u.id));
      if (!res.body.next) {
        expect(res.body.next).toBeNull();
        expect(res.headers.get('link')).toBeNull();
        break;
      }
      expect(res.headers.get('link')).toBe(
        `</admin/api/upstreams?limit=2&after=${res.body.next}>; rel="next"`,
      );
      path = `/upstreams?limit=2&after=${res.body.next}`;
    }
    // Every upstream once, by id.
    expect(seen).toEqual([...seen].sort());
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.filter((id) => id.startsWith(prefix))).toEqual(ids);
    // Without limit: the first page holds all of these (default 50).
    const all = await platform.api('GET', '/upstreams');
    expect(all.body.items.map((u: { id: string }) => u.id)).toEqual(expect.arrayContaining(ids));
    expect(all.body).toHaveProperty('next');

    for (const query of ['limit=0', 'limit=201', 'limit=x']) {
      const bad = await platform.api('GET', `/upstreams?${query}`);
      expect(bad.status).toBe(400);
      expect(bad.type).toMatch(/application\/problem\+json/);
      expect(bad.body).toMatchObject({ code: 'ERR_BAD_PARAMETER', field: 'limit' });
    }
    expect((await platform.api('GET', '/upstreams?after=not%20a%20cursor')).body).toMatchObject({
      code: 'ERR_BAD_PARAMETER',
      field: 'after',
    });
  });

  it('answers a bad registration with problem+json naming the field', async () => {
    const bad = await platform.api('POST', '/upstreams', {
      ...upstream(unique('bad')),
      issuer: 'not a url',
    });
    expect(bad.status).toBe(400);
    expect(bad.type).toMatch(/application\/problem\+json/);
    expect(JSON.stringify(bad.body)).toContain('issuer');
  });

  it('refuses agency administrators', async () => {
    expect((await agencyAdmin.api('GET', '/upstreams')).status).toBe(403);
    expect((await agencyAdmin.api('POST', '/upstreams', upstream('nope'))).status).toBe(403);
    const { client_secret: _secret, ...edit } = upstream('nope');
    expect((await agencyAdmin.api('PUT', '/upstreams/nope', edit)).status).toBe(403);
    expect((await agencyAdmin.api('POST', '/upstreams/nope/enable')).status).toBe(403);
  });
});
