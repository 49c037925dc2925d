// My One-ID (/account) as the citizen's browser gets it over HTTP: the agency systems they signed
// in to, each with its first and last sign-in; their recent activity (sign-ins, consent
// decisions, passkey changes) in their language; and renaming a passkey, which needs the page's
// CSRF token, is audited, and answers a blank name or someone else's passkey with a readable page.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { createBrowserSession, csrfFrom, type BrowserSession } from '../support/browser-session.ts';
import {
  authorizationRequest,
  discover,
  enrolCitizen,
  registerClient,
  signIn,
} from '../support/flows.ts';

let app: TestApp;
let citizen: Awaited<ReturnType<typeof enrolCitizen>>;
let session: BrowserSession;
let welfare: Awaited<ReturnType<typeof registerClient>>;
let tax: Awaited<ReturnType<typeof registerClient>>;

const signInTo = async (client: typeof welfare) => {
  const request = await authorizationRequest(await discover(app, client), client.redirectUri, {
    scope: 'openid profile',
  });
  expect(
    new URL(await signIn(app, session, citizen.authenticator, request.url)).searchParams.get(
      'code',
    ),
  ).toBeTruthy();
};

/** Sign-ins are counted after the redirect is sent: wait until the database has them all. */
const signInsRecorded = async (expected: number) => {
  for (let i = 0; i < 100; i += 1) {
    const rows = await app.knex('client_sign_ins').where({ account_id: citizen.account.id });
    if (rows.reduce((n, r) => n + Number(r.count), 0) >= expected) return rows;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('sign-ins were not recorded');
};

/** My One-ID in the signed-in browser; `lang` sets the page language (kept in a cookie). */
const accountPage = async (query = '') => {
  const { res, url } = await session.follow(`${app.issuer}/account${query}`, app.issuer);
  expect(new URL(url).pathname).toBe('/account');
  expect(res.status).toBe(200);
  return res.text();
};

const section = (html: string, id: string) => {
  const start = html.indexOf(`<h2 id="${id}">`);
  return html.slice(start, html.indexOf('</section>', start));
};

beforeAll(async () => {
  app = await startTestApp();
  citizen = await enrolCitizen(app, {
    name: '한지민',
    birthdate: '1993-03-03',
    email: 'jimin@example.com',
  });
  session = createBrowserSession();
  welfare = await registerClient(app, { client_name: '복지로', agency: '보건복지부' });
  tax = await registerClient(app, { client_name: '홈택스', agency: '국세청' });
  await signInTo(welfare);
  await signInTo(tax);
  await signInTo(welfare);
  await signInsRecorded(3);
});
afterAll(() => app?.stop());

describe('My One-ID', () => {
  it('lists the connected systems with their agency and first and last sign-in, and no One-ID page among them', async () => {
    const rows = await signInsRecorded(3);
    const html = await accountPage('?lang=ko');
    const systems = section(html, 'systems');
    for (const [client, name, agency, count] of [
      [welfare, '복지로', '보건복지부', 2],
      [tax, '홈택스', '국세청', 1],
    ] as const) {
      const row = rows.find((r) => r.client_id === client.clientId)!;
      expect(Number(row.count)).toBe(count);
      const item = systems.slice(systems.indexOf(`<strong>${name}</strong>`));
      expect(item).toMatch(
        new RegExp(`^<strong>${name}</strong> <span class="meta">\\(${agency}\\)</span>`),
      );
      const times = [
        ...item.slice(0, item.indexOf('</li>')).matchAll(/<time datetime="([^"]+)">/g),
      ].map((m) => m[1]);
      expect(times).toEqual([
        new Date(row.first_at).toISOString(),
        new Date(row.last_at).toISOString(),
      ]);
      expect(item.slice(0, item.indexOf('</li>'))).toContain('처음 사용');
      expect(item.slice(0, item.indexOf('</li>'))).toContain('최근 사용');
    }
    const welfareRow = rows.find((r) => r.client_id === welfare.clientId)!;
    expect(new Date(welfareRow.last_at).getTime()).toBeGreaterThan(
      new Date(welfareRow.first_at).getTime(),
    );
    // Most recent first; My One-ID itself is not an agency system.
    expect(systems.indexOf('복지로')).toBeLessThan(systems.indexOf('홈택스'));
    expect(systems).not.toContain('My One-ID');
  });

  it('shows recent activity: the sign-ins and the consent decisions, in the page language', async () => {
    const ko = section(await accountPage('?lang=ko'), 'activity');
    expect(ko).toContain('패스키로 로그인');
    expect(ko).toContain('정보 제공 동의');
    expect(ko).not.toContain('activity.');
    const en = section(await accountPage('?lang=en'), 'activity');
    expect(en).toContain('Signed in with a passkey');
    expect(en).toContain('Agreed to share information');
    expect(en).not.toContain('activity.');
  });

  it("renames a passkey with the page's CSRF token, audits it, and shows it in activity", async () => {
    const [credential] = await app.services.passkeys.listForAccount(citizen.account.id);
    const html = await accountPage('?lang=ko');
    expect(html).toContain(`action="/account/passkeys/${credential!.id}/rename"`);
    const rename = (form: Record<string, string>) =>
      session.request(`${app.issuer}/account/passkeys/${credential!.id}/rename`, {
        method: 'POST',
        form,
      });

    // Without the token: refused, nothing changes.
    expect((await rename({ name: '도난' })).status).toBe(403);
    expect((await app.services.passkeys.listForAccount(citizen.account.id))[0]!.name).toBe(
      credential!.name,
    );

    const res = await rename({ _csrf: csrfFrom(html), name: '  내 휴대전화 <갤럭시>  ' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('/account?done=renamed');
    expect((await app.services.passkeys.listForAccount(citizen.account.id))[0]!.name).toBe(
      '내 휴대전화 <갤럭시>',
    );
    const after = await accountPage('?done=renamed');
    expect(after).toContain('<p class="status" role="status">패스키 이름을 바꿨습니다.</p>');
    expect(section(after, 'passkeys')).toContain(
      '<strong class="passkey-name">내 휴대전화 &lt;갤럭시&gt;</strong>',
    );
    expect(section(after, 'activity')).toContain('패스키 이름 변경');
    const audit = await app
      .knex('audit_events')
      .where({ action: 'auth.passkey.renamed', subject: `account:${citizen.account.id}` });
    expect(audit).toEqual([
      expect.objectContaining({
        actor: `account:${citizen.account.id}`,
        details: { credentialId: credential!.id },
      }),
    ]);

    // Longer than 60 characters: kept to 60.
    await rename({ _csrf: csrfFrom(after), name: '가'.repeat(80) });
    expect((await app.services.passkeys.listForAccount(citizen.account.id))[0]!.name).toBe(
      '가'.repeat(60),
    );
  });

  it.each(['ko', 'en'] as const)(
    "answers a blank name or another citizen's passkey with a readable page (%s)",
    async (lang) => {
      const html = await accountPage(`?lang=${lang}`);
      const [own] = await app.services.passkeys.listForAccount(citizen.account.id);
      const other = await enrolCitizen(app);
      const [theirs] = await app.services.passkeys.listForAccount(other.account.id);
      const rename = (id: string, name: string) =>
        session.request(`${app.issuer}/account/passkeys/${id}/rename`, {
          method: 'POST',
          form: { _csrf: csrfFrom(html), name },
        });

      const blank = await rename(own!.id, '   ');
      expect(blank.status).toBe(400);
      const blankPage = await blank.text();
      expect(blankPage).toContain(`<html lang="${lang}">`);
      expect(blankPage).toContain('<code>ERR_PASSKEY_NAME</code>');
      expect(blankPage).toContain(
        lang === 'ko' ? '패스키 이름을 입력해 주세요.' : 'Give the passkey a name.',
      );

      const foreign = await rename(theirs!.id, '내 것');
      expect(foreign.status).toBe(404);
      expect(await foreign.text()).toContain(
        lang === 'ko'
          ? '이 계정에 등록된 패스키가 아닙니다.'
          : 'This passkey is not registered to your account.',
      );
      expect((await app.services.passkeys.listForAccount(other.account.id))[0]!.name).toBe(
        theirs!.name,
      );
      expect((await app.services.passkeys.listForAccount(citizen.account.id))[0]!.name).toBe(
        own!.name,
      );
    },
  );
});
