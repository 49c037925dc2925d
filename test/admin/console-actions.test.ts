// The console's actions over HTTP as a browser posts them (session cookie, CSRF token, the
// page's own form fields): editing a system keeps the metadata the form does not change; a
// platform administrator grants and revokes roles, adds an agency and enables (reviews) an
// agency administrator's draft; each checked in the database and the audit trail, and refused
// to an agency administrator. Allowed claims are named by the catalogue's labels.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPrincipal } from '../../src/admin/index.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { enrolCitizen } from '../support/flows.ts';
import {
  consoleAdmin,
  csrfOf,
  formFields,
  postForm,
  type ConsoleAdmin,
} from './console-support.ts';
import { unique } from './support.ts';

let app: TestApp;
let platform: ConsoleAdmin;
let agencyAdmin: ConsoleAdmin;
const AGENCY = unique('국세청');

beforeAll(async () => {
  app = await startTestApp();
  [platform, agencyAdmin] = await Promise.all([
    consoleAdmin(app, 'platform'),
    consoleAdmin(app, 'agency', AGENCY),
  ]);
});
afterAll(() => app?.stop());

/** The newest audit records for a subject (or of an action), read as the CLI would. */
const audit = async (q: { subject?: string; action?: string }) =>
  (await app.services.admin.audit.search(cliPrincipal(), { ...q, limit: 20 })).items;

describe('admin console: editing a system', () => {
  it('sets the directory and sign-in fields: tos_uri, initiate_login_uri, description, default_max_age, require_auth_time', async () => {
    const { client } = await app.services.admin.registry.create(cliPrincipal(), {
      client_id: unique('gov24'),
      client_name: '정부24',
      agency: AGENCY,
      redirect_uris: ['https://www.gov24.example.go.kr/cb'],
      token_endpoint_auth_method: 'client_secret_basic',
    });
    const id = client.client_id;
    const edit = await platform.browser.request(`${app.issuer}/admin/clients/${id}/edit`);
    const fields = formFields(await edit.text(), `/admin/clients/${id}`);
    for (const name of ['tos_uri', 'initiate_login_uri', 'description', 'default_max_age'])
      expect(fields.get(name), name).toBe('');
    const values = {
      tos_uri: 'https://www.gov24.example.go.kr/terms',
      initiate_login_uri: 'https://www.gov24.example.go.kr/login',
      description: '민원 신청과 발급',
      default_max_age: '600',
    };
    for (const [name, value] of Object.entries(values)) fields.set(name, value);
    fields.set('require_auth_time', 'yes');
    const saved = await postForm(platform.browser, `${app.issuer}/admin/clients/${id}`, fields);
    expect(saved.status, await saved.clone().text()).toBe(302);
    expect((await app.services.clients.find(id))?.metadata).toMatchObject({
      ...values,
      default_max_age: 600,
      require_auth_time: true,
    });
    // Shown again on the edit page; a bad number is refused naming the field; unchecked is off.
    const shown = formFields(
      await (await platform.browser.request(`${app.issuer}/admin/clients/${id}/edit`)).text(),
      `/admin/clients/${id}`,
    );
    expect(shown.get('default_max_age')).toBe('600');
    expect(shown.get('require_auth_time')).toBe('yes');
    shown.set('default_max_age', 'an hour');
    const bad = await postForm(platform.browser, `${app.issuer}/admin/clients/${id}`, shown);
    expect(bad.status).toBe(400);
    expect(await bad.text()).toMatch(
      /id="f-default_max_age" name="default_max_age" aria-invalid="true"/,
    );
    shown.set('default_max_age', '');
    shown.delete('require_auth_time');
    expect(
      (await postForm(platform.browser, `${app.issuer}/admin/clients/${id}`, shown)).status,
    ).toBe(302);
    const after = (await app.services.clients.find(id))?.metadata;
    expect(after).toMatchObject({ require_auth_time: false, tos_uri: values.tos_uri });
    expect(after).not.toHaveProperty('default_max_age');
  });

  it('keeps the metadata the form does not change (sector, ID token algorithm, logout session, URIs, scope)', async () => {
    // A system on two hosts (so a sector identifier is required), registered with the API's
    // full metadata, e.g. by a manifest.
    const stored = {
      client_name: '홈택스',
      agency: AGENCY,
      redirect_uris: ['https://www.hometax.example.go.kr/cb', 'https://m.hometax.example.go.kr/cb'],
      sector_identifier_uri: 'https://www.hometax.example.go.kr/sector.json',
      id_token_signed_response_alg: 'RS256',
      backchannel_logout_uri: 'https://www.hometax.example.go.kr/logout',
      backchannel_logout_session_required: true,
      client_uri: 'https://www.hometax.example.go.kr/',
      policy_uri: 'https://www.hometax.example.go.kr/privacy',
      scope: 'openid profile',
      token_endpoint_auth_method: 'client_secret_basic',
      allowed_claims: [
        {
          claim: 'name',
          purpose: { ko: '납세자 확인', en: 'Identifying the taxpayer' },
          required: true,
          retention_days: 365,
        },
      ],
    };
    const { client } = await app.services.admin.registry.create(cliPrincipal(), {
      ...stored,
      client_id: unique('hometax'),
    });
    const id = client.client_id;

    // The edit page shows the fields; the administrator changes only the name and saves.
    const edit = await platform.browser.request(`${app.issuer}/admin/clients/${id}/edit`);
    expect(edit.status).toBe(200);
    const fields = formFields(await edit.text(), `/admin/clients/${id}`);
    expect(fields.get('sector_identifier_uri')).toBe(stored.sector_identifier_uri);
    expect(fields.get('id_token_signed_response_alg')).toBe('RS256');
    expect(fields.get('backchannel_logout_session_required')).toBe('yes');
    fields.set('client_name', '홈택스 (개편)');
    const saved = await postForm(platform.browser, `${app.issuer}/admin/clients/${id}`, fields);
    expect(saved.status, await saved.clone().text()).toBe(302);
    expect(saved.headers.get('location')).toBe(`/admin/clients/${id}?done=updated`);

    const { client_name: _name, agency: _agency, allowed_claims: _claims, ...kept } = stored;
    const after = await app.services.clients.find(id);
    expect(after?.metadata).toMatchObject({
      ...kept,
      client_name: '홈택스 (개편)',
      subject_type: 'pairwise',
    });
    expect((await app.services.clients.allowances(id)).map((a) => a.claim)).toEqual(['name']);
    const [updated] = await audit({ subject: `client:${id}`, action: 'clients.updated' });
    expect(updated).toMatchObject({
      actor: platform.actor,
      details: {
        via: 'console',
        before: { metadata: { client_name: '홈택스', id_token_signed_response_alg: 'RS256' } },
        after: {
          metadata: {
            client_name: '홈택스 (개편)',
            id_token_signed_response_alg: 'RS256',
            sector_identifier_uri: stored.sector_identifier_uri,
          },
        },
      },
    });

    // A submission without a field (a form that does not show it) keeps it as stored; a shown
    // field emptied is removed; an unchecked box is off.
    const csrf = fields.get('_csrf')!;
    const partial = new URLSearchParams(fields);
    partial.delete('policy_uri');
    partial.set('client_uri', '');
    partial.delete('backchannel_logout_session_required');
    expect(
      (await postForm(platform.browser, `${app.issuer}/admin/clients/${id}`, partial)).status,
    ).toBe(302);
    const again = (await app.services.clients.find(id))?.metadata;
    expect(again).toMatchObject({
      policy_uri: stored.policy_uri,
      sector_identifier_uri: stored.sector_identifier_uri,
      backchannel_logout_session_required: false,
    });
    expect(again).not.toHaveProperty('client_uri');

    // A sector identifier removed from a two-host system is refused, naming the field on the page.
    const bad = await postForm(platform.browser, `${app.issuer}/admin/clients/${id}`, {
      ...Object.fromEntries(fields),
      _csrf: csrf,
      sector_identifier_uri: '',
    });
    expect(bad.status).toBe(400);
    const page = await bad.text();
    expect(page).toMatch(
      /<a href="#f-sector_identifier_uri">섹터 식별자 URI: 리디렉션 URI의 호스트가 여럿이면 반드시 적어야 합니다\.<\/a>/,
    );
    expect(page).toMatch(
      /id="f-sector_identifier_uri" name="sector_identifier_uri" aria-invalid="true"/,
    );
    expect((await app.services.clients.find(id))?.metadata.sector_identifier_uri).toBe(
      stored.sector_identifier_uri,
    );
  });

  it('names allowed claims by the catalogue label in the page language, the claim name second', async () => {
    const { client } = await app.services.admin.registry.create(cliPrincipal(), {
      client_id: unique('gov24'),
      client_name: '정부24',
      agency: AGENCY,
      redirect_uris: ['https://gov24.example.go.kr/cb'],
      token_endpoint_auth_method: 'client_secret_basic',
      allowed_claims: [
        {
          claim: 'birthdate',
          purpose: { ko: '연령 확인', en: 'Checking age' },
          required: false,
          retention_days: 30,
        },
      ],
    });
    const allowance = async (lang: string) =>
      /<li class="allowance">([\s\S]*?)<\/li>/.exec(
        await (
          await platform.browser.request(
            `${app.issuer}/admin/clients/${client.client_id}?lang=${lang}`,
          )
        ).text(),
      )?.[1];
    expect(await allowance('ko')).toMatch(
      /^<strong lang="ko">생년월일<\/strong> <code class="claim-name">\(birthdate\)<\/code> — 연령 확인/,
    );
    expect(await allowance('en')).toMatch(
      /^<strong lang="en">Date of birth<\/strong> <code class="claim-name">\(birthdate\)<\/code> — Checking age/,
    );
  });
});

describe('admin console: platform actions', () => {
  it('grants and revokes a role, audited with the actor; refused to an agency administrator', async () => {
    const someone = await enrolCitizen(app, { name: '이감사' });
    const csrf = await csrfOf(platform.browser, `${app.issuer}/admin/admins`);
    const grant = { _csrf: csrf, account_id: someone.account.id, role: 'auditor', agency: AGENCY };

    // An agency administrator may not (and changes nothing).
    const agencyCsrf = await csrfOf(agencyAdmin.browser, `${app.issuer}/admin`);
    expect(
      (
        await postForm(agencyAdmin.browser, `${app.issuer}/admin/admins`, {
          ...grant,
          _csrf: agencyCsrf,
        })
      ).status,
    ).toBe(403);
    expect(await app.knex('admin_roles').where({ account_id: someone.account.id })).toEqual([]);
    // Nor without the page's CSRF token.
    expect(
      (
        await postForm(platform.browser, `${app.issuer}/admin/admins`, {
          ...grant,
          _csrf: 'forged',
        })
      ).status,
    ).toBe(403);

    const granted = await postForm(platform.browser, `${app.issuer}/admin/admins`, grant);
    expect(granted.status).toBe(302);
    expect(granted.headers.get('location')).toBe('/admin/admins?done=saved');
    const [row] = await app.knex('admin_roles').where({ account_id: someone.account.id });
    expect(row).toMatchObject({ role: 'auditor', agency: AGENCY, granted_by: platform.actor });
    expect(
      (await audit({ subject: `account:${someone.account.id}`, action: 'admin.role.granted' }))[0],
    ).toMatchObject({
      actor: platform.actor,
      details: { role: 'auditor', agency: AGENCY, via: 'console' },
    });
    expect(await (await platform.browser.request(`${app.issuer}/admin/admins`)).text()).toContain(
      someone.account.id,
    );

    expect(
      (
        await postForm(agencyAdmin.browser, `${app.issuer}/admin/admins/${row.id}/revoke`, {
          _csrf: agencyCsrf,
        })
      ).status,
    ).toBe(403);
    expect(await app.knex('admin_roles').where({ id: row.id })).toHaveLength(1);
    const revoked = await postForm(
      platform.browser,
      `${app.issuer}/admin/admins/${row.id}/revoke`,
      { _csrf: csrf },
    );
    expect(revoked.status).toBe(302);
    expect(revoked.headers.get('location')).toBe('/admin/admins?done=revoked');
    expect(await app.knex('admin_roles').where({ id: row.id })).toEqual([]);
    expect(
      (await audit({ subject: `account:${someone.account.id}`, action: 'admin.role.revoked' }))[0],
    ).toMatchObject({
      actor: platform.actor,
      details: { role: 'auditor', agency: AGENCY, via: 'console' },
    });
  });

  it('adds an agency, audited with the actor; refused to an agency administrator', async () => {
    const name = unique('조달청');
    const input = { name, name_en: 'Public Procurement Service', contact: 'it@pps.example.go.kr' };
    const agencyCsrf = await csrfOf(agencyAdmin.browser, `${app.issuer}/admin/agencies`);
    expect(
      (
        await postForm(agencyAdmin.browser, `${app.issuer}/admin/agencies`, {
          ...input,
          _csrf: agencyCsrf,
        })
      ).status,
    ).toBe(403);
    expect(await app.knex('agencies').where({ name })).toEqual([]);

    const csrf = await csrfOf(platform.browser, `${app.issuer}/admin/agencies`);
    const res = await postForm(platform.browser, `${app.issuer}/admin/agencies`, {
      ...input,
      _csrf: csrf,
    });
    expect(res.status).toBe(302);
    expect(await app.knex('agencies').where({ name })).toHaveLength(1);
    expect(
      (await audit({ action: 'agencies.created' })).find((r) => r.details?.agency === name),
    ).toMatchObject({
      actor: platform.actor,
      details: { via: 'console', after: { name_en: input.name_en, contact: input.contact } },
    });
    expect(await (await platform.browser.request(`${app.issuer}/admin/agencies`)).text()).toContain(
      name,
    );
  });

  it('an agency administrator requests a system (a draft); only a platform administrator enables it', async () => {
    // The agency administrator's registration form, as served, filled in.
    const form = await (
      await agencyAdmin.browser.request(`${app.issuer}/admin/clients/new`)
    ).text();
    expect(form).not.toContain('name="status"'); // the status is not theirs to choose
    const fields = formFields(form, '/admin/clients');
    const clientId = unique('yeonmal');
    fields.set('client_id', clientId);
    fields.set('client_name', '연말정산');
    fields.set('redirect_uris', 'https://yeonmal.example.go.kr/cb');
    fields.set('token_endpoint_auth_method', 'none');
    fields.delete('grant_types');
    fields.append('grant_types', 'authorization_code');
    const created = await postForm(agencyAdmin.browser, `${app.issuer}/admin/clients`, fields);
    expect(created.status, await created.clone().text()).toBe(302);
    expect(created.headers.get('location')).toBe(`/admin/clients/${clientId}?done=requested`);
    expect(await app.services.clients.find(clientId)).toMatchObject({
      agency: AGENCY,
      status: 'draft',
      registeredVia: 'console',
    });
    expect(
      (await audit({ subject: `client:${clientId}`, action: 'clients.created' }))[0],
    ).toMatchObject({
      actor: agencyAdmin.actor,
      details: { agency: AGENCY, status: 'draft', via: 'console' },
    });

    // The review: the agency administrator's own enable is refused; the platform's goes through.
    const agencyCsrf = fields.get('_csrf')!;
    expect(
      await (await agencyAdmin.browser.request(`${app.issuer}/admin/clients/${clientId}`)).text(),
    ).not.toContain('id="enable-client"');
    expect(
      (
        await postForm(agencyAdmin.browser, `${app.issuer}/admin/clients/${clientId}/enable`, {
          _csrf: agencyCsrf,
        })
      ).status,
    ).toBe(403);
    expect((await app.services.clients.find(clientId))?.status).toBe('draft');

    const page = await (
      await platform.browser.request(`${app.issuer}/admin/clients/${clientId}`)
    ).text();
    expect(page).toContain('id="enable-client"');
    const csrf = /<meta name="csrf-token" content="([^"]+)"/.exec(page)![1]!;
    const enabled = await postForm(
      platform.browser,
      `${app.issuer}/admin/clients/${clientId}/enable`,
      { _csrf: csrf },
    );
    expect(enabled.status).toBe(302);
    expect(enabled.headers.get('location')).toBe(`/admin/clients/${clientId}?done=enabled`);
    expect((await app.services.clients.find(clientId))?.status).toBe('active');
    expect(
      (await audit({ subject: `client:${clientId}`, action: 'clients.enabled' }))[0],
    ).toMatchObject({
      actor: platform.actor,
      details: {
        agency: AGENCY,
        via: 'console',
        before: { status: 'draft' },
        after: { status: 'active' },
      },
    });
  });
});
