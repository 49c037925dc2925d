// The console's review and status actions and its readable records, over HTTP as a browser posts
// them: disabling needs the ticked confirmation; a disabled system is enabled "again"; a platform
// administrator returns a draft with a reason its agency administrator reads; allowances are
// saved from the editor's rows (a bad row gets a Korean error next to it), and the registry's
// other errors are Korean too (a bad redirect URI names its field and line); the audit log names
// people, systems and actions, filters by action and says what changed (a creation: what it
// set); administrators find people by name to grant a role.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPrincipal } from '../../src/admin/index.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { enrolCitizen } from '../support/flows.ts';
import { consoleAdmin, formFields, postForm, type ConsoleAdmin } from './console-support.ts';
import { unique } from './support.ts';

let app: TestApp;
let platform: ConsoleAdmin;
let agencyAdmin: ConsoleAdmin;
const AGENCY = unique('행정안전부');

beforeAll(async () => {
  app = await startTestApp();
  [platform, agencyAdmin] = await Promise.all([
    consoleAdmin(app, 'platform'),
    consoleAdmin(app, 'agency', AGENCY),
  ]);
});
afterAll(() => app?.stop());

const page = async (admin: ConsoleAdmin, path: string) =>
  (await admin.browser.request(`${app.issuer}${path}`)).text();
const csrf = (html: string) => /<meta name="csrf-token" content="([^"]+)"/.exec(html)![1]!;
const audit = async (q: { subject?: string; action?: string }) =>
  (await app.services.admin.audit.search(cliPrincipal(), { ...q, limit: 20 })).items;

const register = async (status: 'active' | 'draft' = 'active') =>
  (
    await app.services.admin.registry.create(cliPrincipal(), {
      client_id: unique('minwon'),
      client_name: '민원24',
      agency: AGENCY,
      status,
      redirect_uris: ['https://minwon.example.go.kr/cb'],
      token_endpoint_auth_method: 'none',
    })
  ).client.client_id;

describe('admin console: disabling and enabling again', () => {
  it('disables only with the ticked confirmation; a disabled system is enabled "again"', async () => {
    const id = await register();
    const html = await page(platform, `/admin/clients/${id}`);
    expect(html).toMatch(/<input type="checkbox" name="confirm" value="yes" id="confirm-disable"/);
    expect(html).toContain('‘민원24’을(를) 쓰는 모든 시민이 즉시 로그아웃되는 것을 확인했습니다.');

    // The form as served (box unticked): refused, nothing changes, the box is marked.
    const fields = formFields(html, `/admin/clients/${id}/disable`);
    expect(fields.has('confirm')).toBe(false);
    const refused = await postForm(
      platform.browser,
      `${app.issuer}/admin/clients/${id}/disable`,
      fields,
    );
    expect(refused.status).toBe(400);
    const again = await refused.text();
    expect(again).toContain('<a href="#confirm-disable">');
    expect(again).toContain('먼저 확인란을 선택해 주세요.');
    expect(again).toMatch(
      /id="confirm-disable" required aria-describedby="disable-help" aria-invalid="true"/,
    );
    expect((await app.services.clients.find(id))?.status).toBe('active');
    expect(await audit({ subject: `client:${id}`, action: 'clients.disabled' })).toEqual([]);

    fields.set('confirm', 'yes');
    const disabled = await postForm(
      platform.browser,
      `${app.issuer}/admin/clients/${id}/disable`,
      fields,
    );
    expect(disabled.headers.get('location')).toBe(`/admin/clients/${id}?done=disabled`);
    expect((await app.services.clients.find(id))?.status).toBe('disabled');

    // The disabled system's button says what it does; enabling reports "enabled again".
    const off = await page(platform, `/admin/clients/${id}`);
    expect(off).toMatch(/id="enable-client">다시 사용<\/button>/);
    expect(off).not.toContain('검토 완료: 사용 승인');
    const on = await postForm(platform.browser, `${app.issuer}/admin/clients/${id}/enable`, {
      _csrf: csrf(off),
    });
    expect(on.headers.get('location')).toBe(`/admin/clients/${id}?done=reenabled`);
    expect(await page(platform, `/admin/clients/${id}?done=reenabled`)).toContain(
      '시스템을 다시 사용합니다.',
    );
    // A draft keeps the review's label.
    const draft = await register('draft');
    expect(await page(platform, `/admin/clients/${draft}`)).toMatch(
      /id="enable-client">검토 완료: 사용 승인<\/button>/,
    );
  });
});

describe('admin console: returning a draft with a reason', () => {
  it('a platform administrator returns a draft; the agency administrator reads why, until it is edited', async () => {
    const id = await register('draft');
    const reason = '개인정보 처리방침 URI를 적어 주세요.\n보유 기간도 다시 확인해 주세요.';

    // Not the agency administrator's to do (no form, and a post is refused).
    const own = await page(agencyAdmin, `/admin/clients/${id}`);
    expect(own).not.toContain('id="return-client"');
    expect(
      (
        await postForm(agencyAdmin.browser, `${app.issuer}/admin/clients/${id}/return`, {
          _csrf: csrf(own),
          reason,
        })
      ).status,
    ).toBe(403);

    // No reason: the form again, the Korean error on the field; nothing recorded.
    const html = await page(platform, `/admin/clients/${id}`);
    const fields = formFields(html, `/admin/clients/${id}/return`);
    expect(fields.get('reason')).toBe('');
    const empty = await postForm(
      platform.browser,
      `${app.issuer}/admin/clients/${id}/return`,
      fields,
    );
    expect(empty.status).toBe(400);
    const emptyPage = await empty.text();
    expect(emptyPage).toContain('<a href="#f-reason">');
    expect(emptyPage).toContain('사유를 1000자 이내로 적어 주세요.');
    expect(emptyPage).toMatch(/id="f-reason"[^>]*aria-invalid="true"/);
    expect(await audit({ subject: `client:${id}`, action: 'clients.review.returned' })).toEqual([]);

    fields.set('reason', reason);
    const returned = await postForm(
      platform.browser,
      `${app.issuer}/admin/clients/${id}/return`,
      fields,
    );
    expect(returned.headers.get('location')).toBe(`/admin/clients/${id}?done=returned`);
    expect((await app.services.clients.find(id))?.status).toBe('draft');
    expect(
      (await audit({ subject: `client:${id}`, action: 'clients.review.returned' }))[0],
    ).toMatchObject({
      actor: platform.actor,
      details: { agency: AGENCY, reason: reason.trim(), via: 'console' },
    });

    // The agency administrator sees the reason on the system's page...
    const seen = await page(agencyAdmin, `/admin/clients/${id}`);
    expect(seen).toContain('id="review-returned"');
    expect(seen).toContain('플랫폼 관리자가 보완을 요청했습니다');
    expect(seen).toContain('개인정보 처리방침 URI를 적어 주세요.');
    // ...until the registration is edited and saved (sent for review again).
    const form = formFields(
      await page(agencyAdmin, `/admin/clients/${id}/edit`),
      `/admin/clients/${id}`,
    );
    form.set('policy_uri', 'https://minwon.example.go.kr/privacy');
    const saved = await postForm(agencyAdmin.browser, `${app.issuer}/admin/clients/${id}`, form);
    expect(saved.status, await saved.clone().text()).toBe(302);
    expect(await page(agencyAdmin, `/admin/clients/${id}`)).not.toContain('id="review-returned"');

    // Only a draft is returned.
    const active = await register();
    const refused = await app.services.admin.registry
      .returnDraft(cliPrincipal(), active, 'x')
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'ERR_CLIENT_NOT_DRAFT', status: 409 });
  });
});

describe('admin console: registry errors in the page language', () => {
  it('shows a bad redirect URI on the Korean form as a Korean error naming the field and line', async () => {
    const fields = formFields(await page(platform, '/admin/clients/new'), '/admin/clients');
    const id = unique('minwon');
    fields.set('client_id', id);
    fields.set('client_name', '민원 포털');
    fields.set('agency', AGENCY);
    fields.set('redirect_uris', 'https://minwon.example.go.kr/cb\nhttp://minwon.example.go.kr/cb');
    fields.set('token_endpoint_auth_method', 'client_secret_basic');

    const bad = await postForm(platform.browser, `${app.issuer}/admin/clients`, fields);
    expect(bad.status).toBe(400);
    const html = await bad.text();
    expect(html).toContain(
      '<a href="#f-redirect_uris">리디렉션 URI 2번째 줄: https 주소여야 합니다(http는 localhost에서만 쓸 수 있습니다).</a>',
    );
    expect(html).toMatch(/id="f-redirect_uris" name="redirect_uris" aria-invalid="true"/);
    expect(html).not.toMatch(/must use https|redirect_uris\.1/);
    expect(await app.services.clients.exists(id)).toBe(false);
  });
});

describe('admin console: the allowance editor', () => {
  it('saves allowances from the rows; a bad retention gets a Korean error next to its row', async () => {
    const form = await page(platform, '/admin/clients/new');
    expect(form).not.toContain('name="allowed_claims"');
    expect(form).toContain('name="claims[name][allowed]"');
    expect(form).toContain('name="claims[birthdate][retention_days]"');
    const fields = formFields(form, '/admin/clients');
    const id = unique('bokji');
    fields.set('client_id', id);
    fields.set('client_name', '복지로');
    fields.set('agency', AGENCY);
    fields.set('redirect_uris', 'https://bokji.example.go.kr/cb');
    fields.set('token_endpoint_auth_method', 'none');
    fields.set('claims[name][allowed]', 'yes');
    fields.set('claims[name][required]', 'yes');
    fields.set('claims[name][purpose_ko]', '신청인 확인');
    fields.set('claims[name][purpose_en]', 'Identifying the applicant');
    fields.set('claims[name][retention_days]', '365');
    fields.set('claims[birthdate][allowed]', 'yes');
    fields.set('claims[birthdate][purpose_ko]', '연령 확인');
    fields.set('claims[birthdate][purpose_en]', 'Checking age');
    fields.set('claims[birthdate][retention_days]', '0');

    const bad = await postForm(platform.browser, `${app.issuer}/admin/clients`, fields);
    expect(bad.status).toBe(400);
    const html = await bad.text();
    expect(html).toContain(
      '<a href="#claim-birthdate-retention_days">생년월일 · 보유 기간 (일): 보유 기간은 1일에서 3650일 사이의 숫자로 적어 주세요.</a>',
    );
    expect(html).toMatch(
      /id="claim-birthdate-retention_days"[^>]*aria-invalid="true" aria-describedby="e-claim-birthdate-retention_days"/,
    );
    expect(html).toContain(
      '<p class="field-error" id="e-claim-birthdate-retention_days">보유 기간은 1일에서 3650일 사이의 숫자로 적어 주세요.</p>',
    );
    expect(html).not.toMatch(/Invalid input|allowed_claims\.\d/);
    expect(await app.services.clients.find(id)).toBeUndefined();

    // What was typed is kept; corrected, the system is saved with both rows.
    const kept = formFields(html, '/admin/clients');
    expect(kept.get('claims[name][purpose_ko]')).toBe('신청인 확인');
    expect(kept.get('claims[birthdate][allowed]')).toBe('yes');
    kept.set('claims[birthdate][retention_days]', '30');
    const saved = await postForm(platform.browser, `${app.issuer}/admin/clients`, kept);
    expect(saved.status, await saved.clone().text()).toBe(302);
    const stored = (await app.services.admin.registry.get(cliPrincipal(), id)).allowed_claims;
    expect([...(stored ?? [])].sort((x, y) => x.claim.localeCompare(y.claim))).toEqual([
      {
        claim: 'birthdate',
        required: false,
        purpose: { ko: '연령 확인', en: 'Checking age' },
        retention_days: 30,
      },
      {
        claim: 'name',
        required: true,
        purpose: { ko: '신청인 확인', en: 'Identifying the applicant' },
        retention_days: 365,
      },
    ]);

    // The edit page shows the rows filled in; unticking a row removes that allowance.
    const edit = formFields(
      await page(platform, `/admin/clients/${id}/edit`),
      `/admin/clients/${id}`,
    );
    expect(edit.get('claims[birthdate][retention_days]')).toBe('30');
    expect(edit.get('claims[name][required]')).toBe('yes');
    edit.delete('claims[birthdate][allowed]');
    expect(
      (await postForm(platform.browser, `${app.issuer}/admin/clients/${id}`, edit)).status,
    ).toBe(302);
    expect((await app.services.clients.allowances(id)).map((a) => a.claim)).toEqual(['name']);

    // English page, English errors.
    edit.set('claims[name][purpose_en]', '');
    const en = await postForm(platform.browser, `${app.issuer}/admin/clients/${id}?lang=en`, edit);
    expect(en.status).toBe(400);
    expect(await en.text()).toContain('Name · Purpose (English): Write the purpose in English');
    await page(platform, '/admin?lang=ko'); // the language choice is remembered: back to Korean
  });
});

describe('admin console: readable records', () => {
  it('the audit log names people and actions, filters by action, and says what changed', async () => {
    const id = await register();
    const form = formFields(
      await page(platform, `/admin/clients/${id}/edit`),
      `/admin/clients/${id}`,
    );
    form.set('client_name', '민원24 (개편)');
    expect(
      (await postForm(platform.browser, `${app.issuer}/admin/clients/${id}`, form)).status,
    ).toBe(302);

    const subject = encodeURIComponent(`client:${id}`);
    const html = await page(platform, `/admin/audit?subject=${subject}&action=clients.updated`);
    expect(html).toMatch(/<option value="clients.updated" selected>등록 정보 수정<\/option>/);
    expect(html).toContain('<option value="clients.*">기관 시스템: 전체</option>');
    const rows = html.match(/<tr id="audit-/g) ?? [];
    expect(rows).toHaveLength(1);
    expect(html).toContain('<span class="action-label">등록 정보 수정</span>');
    expect(html).toContain('platform 관리자</a>'); // the actor by name
    expect(html).not.toContain(`>${platform.actor}<`);
    expect(html).toContain('<code>metadata.client_name</code>: <span class="before">민원24</span>');
    expect(html).toContain('<span class="after">민원24 (개편)</span>');
    expect(html).toContain('일시 (한국 시간)');
    // 24-hour Korean time, e.g. "2026. 11. 27. 14:05"
    expect(html).toMatch(/<time datetime="[^"]+Z">\d{4}\. \d{1,2}\. \d{1,2}\. \d{2}:\d{2}<\/time>/);

    // The prefix choice lists the system's records of every action.
    const all = await page(platform, `/admin/audit?subject=${subject}&action=clients.*`);
    expect(all).toMatch(/<option value="clients.\*" selected>/);
    expect((all.match(/<tr id="audit-/g) ?? []).length).toBe(2); // created, updated
    // The system by its (current) name with its client id; the creation as the values it set.
    expect(all).toContain(`title="client:${id}">민원24 (개편) (${id})</a>`);
    expect(all).toContain('<p class="values-label">새로 설정한 값</p>');
    expect(all).toContain('<code>client_name</code>: <span class="value">민원24</span>');
    expect(all).not.toContain('<span class="before">(없음)</span>');
  });

  it('administrators are shown by name; a person is found by name or email to grant a role', async () => {
    const name = unique('한소망').replace(/[^가-힣]/g, '') + '테스트';
    const someone = await enrolCitizen(app, { name, email: `${unique('so')}@example.go.kr` });
    const list = await page(platform, '/admin/admins');
    expect(list).toContain('platform 관리자</a>');

    const found = await page(platform, `/admin/admins?q=${encodeURIComponent(name.slice(0, 3))}`);
    expect(found).toMatch(
      new RegExp(`<input type="radio" name="account_id" value="${someone.account.id}"`),
    );
    expect(found).toContain(`<strong>${name}</strong>`);
    const byEmail = await page(
      platform,
      `/admin/admins?q=${encodeURIComponent(someone.account.email!.toUpperCase())}`,
    );
    expect(byEmail).toContain(`value="${someone.account.id}"`);
    expect(await page(platform, '/admin/admins?q=%EC%97%86%EB%8A%94%EC%82%AC%EB%9E%8C')).toContain(
      'id="no-accounts"',
    );

    const grant = formFields(
      byEmail,
      `/admin/admins?q=${encodeURIComponent(someone.account.email!.toUpperCase())}`,
    );
    expect(grant.get('account_id')).toBe(someone.account.id); // the one result is chosen
    grant.set('role', 'auditor');
    const granted = await postForm(platform.browser, `${app.issuer}/admin/admins`, grant);
    expect(granted.status).toBe(302);
    expect(await page(platform, '/admin/admins')).toContain(`${name}</a>`);
    // An agency administrator has no such search.
    expect(
      (
        await agencyAdmin.browser.request(
          `${app.issuer}/admin/admins?q=${encodeURIComponent(name)}`,
        )
      ).status,
    ).toBe(403);
  });
});
