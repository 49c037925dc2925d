// The console's page for upstream identity providers over HTTP as a browser uses it: a platform
// administrator sees the registered ones, adds one with the form (audited, secret never shown),
// gets a bad issuer back as a field error, edits one keeping its secret, disables and enables
// it; an agency administrator is refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPrincipal } from '../../src/admin/index.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
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
const SECRET = 'the-secret-the-upstream-issued-us-0123456789';

beforeAll(async () => {
  app = await startTestApp();
  [platform, agencyAdmin] = await Promise.all([
    consoleAdmin(app, 'platform'),
    consoleAdmin(app, 'agency', unique('기관')),
  ]);
});
afterAll(() => app?.stop());

type UpstreamInput = Parameters<TestApp['services']['federation']['upstreams']['add']>[0];
/** Registers upstream `id` as an operator does (CLI), at its own issuer, with the test secret. */
const addUpstream = (
  id: string,
  settings: Omit<UpstreamInput, 'id' | 'issuer' | 'client_id' | 'client_secret'>,
) =>
  app.services.federation.upstreams.add(
    {
      id,
      issuer: `https://${id}.example.go.kr`,
      client_id: 'one-id',
      client_secret: SECRET,
      ...settings,
    },
    'cli',
  );

const audit = async (subject: string, action: string) =>
  (await app.services.admin.audit.search(cliPrincipal(), { subject, action, limit: 5 })).items;

describe('admin console: upstream identity providers', () => {
  it('lists the registered providers with their names, issuer, status, level and rules', async () => {
    const id = unique('mid');
    await addUpstream(id, {
      acr: 'urn:one-id:loa:substantial',
      claims: { name: 'name', birthdate: 'birth', phone_number: 'phone' },
      match: ['name', 'birthdate'],
      enrolment: true,
      display_name: { ko: '모바일 신분증', en: 'Mobile ID' },
    });
    const res = await platform.browser.request(`${app.issuer}/admin/upstreams`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toMatch(
      /<a href="\/admin\/upstreams" aria-current="page">외부 로그인 제공자<\/a>/,
    );
    const row = new RegExp(`<tr id="upstream-${id}">([\\s\\S]*?)</tr>`).exec(html)?.[1] ?? '';
    for (const text of [
      '<span lang="ko">모바일 신분증</span> / <span lang="en">Mobile ID</span>',
      `https://${id}.example.go.kr`,
      '사용 중',
      '보통',
      'urn:one-id:loa:substantial',
      '속성 일치로 연결: 이름, 생년월일',
      '새 계정 생성 허용',
    ])
      expect(row).toContain(text);
    expect(html).not.toContain(SECRET);
    expect(
      await (await platform.browser.request(`${app.issuer}/admin/upstreams?lang=en`)).text(),
    ).toContain('Links by matching: Name, Date of birth');
  });

  it('adds one through the form (audited), and shows a bad issuer as a field error', async () => {
    const page = await platform.browser.request(`${app.issuer}/admin/upstreams/new`);
    expect(page.status).toBe(200);
    const fields = formFields(await page.text(), '/admin/upstreams');
    const id = unique('kakao');
    for (const [name, value] of Object.entries({
      id,
      display_name_ko: '간편 인증',
      display_name_en: 'Simple auth',
      issuer: 'not a url',
      client_id: 'one-id',
      client_secret: SECRET,
      scopes: 'openid profile',
      claim_name: 'name',
      claim_birthdate: 'birthdate',
    }))
      fields.set(name, value);

    const bad = await postForm(platform.browser, `${app.issuer}/admin/upstreams`, fields);
    expect(bad.status).toBe(400);
    const html = await bad.text();
    // The page is in English (?lang=en above): the English text of the kind.
    expect(html).toContain(
      '<a href="#f-issuer"><code>issuer</code>: must be an https address without query (?) or fragment (#) (http only for localhost)</a>',
    );
    expect(html).toMatch(/id="f-issuer" name="issuer" aria-invalid="true"/);
    expect(html).toContain('value="간편 인증"'); // what was typed is kept...
    expect(html).not.toContain(SECRET); // ...but not the secret
    expect(await app.services.federation.upstreams.find(id)).toBeUndefined();

    fields.set('issuer', `https://${id}.example.go.kr`);
    const created = await postForm(platform.browser, `${app.issuer}/admin/upstreams`, fields);
    expect(created.status, await created.clone().text()).toBe(302);
    expect(created.headers.get('location')).toBe('/admin/upstreams?done=upstream-created');
    expect(await app.services.federation.upstreams.find(id)).toMatchObject({
      issuer: `https://${id}.example.go.kr`,
      clientId: 'one-id',
      hasClientSecret: true,
      scopes: ['openid', 'profile'],
      claimMapping: { name: 'name', birthdate: 'birthdate' },
      acr: 'urn:one-id:loa:substantial',
      matchRule: [],
      enrolment: false,
      displayName: { ko: '간편 인증', en: 'Simple auth' },
      status: 'active',
    });
    const [record] = await audit(`upstream:${id}`, 'federation.upstream.created');
    expect(record).toMatchObject({
      actor: platform.actor,
      details: { via: 'console', after: { issuer: `https://${id}.example.go.kr` } },
    });
    expect(JSON.stringify(record)).not.toContain(SECRET);
  });

  it('edits one keeping its secret, then disables and enables it', async () => {
    const id = unique('pass');
    await addUpstream(id, {
      acr: 'urn:one-id:loa:low',
      display_name: { ko: '패스', en: 'PASS' },
    });
    const edit = await platform.browser.request(`${app.issuer}/admin/upstreams/${id}/edit`);
    expect(edit.status).toBe(200);
    const fields = formFields(await edit.text(), `/admin/upstreams/${id}`);
    expect(fields.get('client_secret')).toBe('');
    expect(fields.get('acr')).toBe('urn:one-id:loa:low');
    fields.set('display_name_en', 'PASS app');
    const saved = await postForm(platform.browser, `${app.issuer}/admin/upstreams/${id}`, fields);
    expect(saved.status, await saved.clone().text()).toBe(302);
    expect((await app.services.federation.upstreams.find(id))?.displayName).toEqual({
      ko: '패스',
      en: 'PASS app',
    });
    expect((await app.services.federation.upstreams.active(id))?.clientSecret).toBe(SECRET);
    expect((await audit(`upstream:${id}`, 'federation.upstream.updated'))[0]).toMatchObject({
      actor: platform.actor,
      details: {
        via: 'console',
        secretChanged: false,
        before: { displayName: { en: 'PASS' } },
        after: { displayName: { en: 'PASS app' } },
      },
    });

    const csrf = fields.get('_csrf')!;
    const disabled = await postForm(
      platform.browser,
      `${app.issuer}/admin/upstreams/${id}/disable`,
      { _csrf: csrf },
    );
    expect(disabled.headers.get('location')).toBe('/admin/upstreams?done=upstream-disabled');
    expect((await app.services.federation.upstreams.find(id))?.status).toBe('disabled');
    expect((await audit(`upstream:${id}`, 'federation.upstream.disabled'))[0]).toMatchObject({
      actor: platform.actor,
      details: { via: 'console', before: { status: 'active' }, after: { status: 'disabled' } },
    });
    expect(
      await (await platform.browser.request(`${app.issuer}/admin/upstreams`)).text(),
    ).toContain(`action="/admin/upstreams/${id}/enable"`);
    await postForm(platform.browser, `${app.issuer}/admin/upstreams/${id}/enable`, { _csrf: csrf });
    expect((await app.services.federation.upstreams.find(id))?.status).toBe('active');
  });

  it('refuses agency administrators and leaves the menu out for them', async () => {
    const id = unique('nope');
    await addUpstream(id, {
      acr: 'urn:one-id:loa:low',
      display_name: { ko: '거부', en: 'Refused' },
    });
    const home = await (await agencyAdmin.browser.request(`${app.issuer}/admin`)).text();
    expect(home).not.toContain('href="/admin/upstreams"');
    const csrf = await csrfOf(agencyAdmin.browser, `${app.issuer}/admin`);
    expect((await agencyAdmin.browser.request(`${app.issuer}/admin/upstreams`)).status).toBe(403);
    expect((await agencyAdmin.browser.request(`${app.issuer}/admin/upstreams/new`)).status).toBe(
      403,
    );
    expect(
      (await agencyAdmin.browser.request(`${app.issuer}/admin/upstreams/${id}/edit`)).status,
    ).toBe(403);
    const add = {
      _csrf: csrf,
      id: unique('evil'),
      issuer: 'https://evil.example.go.kr',
      client_id: 'x',
      client_secret: 'x',
      acr: 'urn:one-id:loa:high',
      display_name_ko: '악성',
      display_name_en: 'Evil',
    };
    expect((await postForm(agencyAdmin.browser, `${app.issuer}/admin/upstreams`, add)).status).toBe(
      403,
    );
    expect(await app.services.federation.upstreams.find(add.id)).toBeUndefined();
    expect(
      (
        await postForm(agencyAdmin.browser, `${app.issuer}/admin/upstreams/${id}/disable`, {
          _csrf: csrf,
        })
      ).status,
    ).toBe(403);
    expect(
      (await postForm(agencyAdmin.browser, `${app.issuer}/admin/upstreams/${id}`, { ...add, id }))
        .status,
    ).toBe(403);
    expect(await app.services.federation.upstreams.find(id)).toMatchObject({
      status: 'active',
      displayName: { en: 'Refused' },
    });
  });
});
