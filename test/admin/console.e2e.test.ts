// The admin console's main paths in real Chromium: sign in through One-ID with a passkey (CDP
// virtual authenticator), register a system (an invalid one first: the error names the field),
// see its secret once, rotate it, read the audit log. Korean first, English on ?lang=en; no
// script errors or CSP violations; axe-core finds no serious accessibility problem.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPrincipal } from '../../src/admin/index.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import {
  accessibilityProblems,
  addVirtualAuthenticator,
  citizenContext,
  launchChromium,
  pageProblems,
} from '../support/chromium.ts';
import { unique } from './support.ts';

const WAIT = 15_000;
let app: TestApp;
let browser: Browser;

beforeAll(async () => {
  [app, browser] = await Promise.all([startTestApp(), launchChromium()]);
});
afterAll(async () => {
  await browser?.close();
  await app?.stop();
});

describe('admin console', () => {
  it('signs an administrator in, registers a system, rotates its secret and shows the audit log', async () => {
    // The login page's passkey button runs the ceremony (no autofill offer).
    const context = await citizenContext(
      browser,
      { viewport: { width: 1280, height: 900 } },
      { waitMs: WAIT },
    );
    const page = await context.newPage();
    const problems = pageProblems(page);
    await addVirtualAuthenticator(page, { residentKey: true });
    try {
      // An account (enrolled at the counter) that the CLI made a platform administrator.
      const { account, url } = await app.services.accounts.enrolCitizen(
        { name: '김관리', birthdate: '1979-09-09', email: `${unique('admin')}@example.go.kr` },
        'test',
      );
      await page.goto(url);
      await page.click('#register-button');
      await page.waitForURL(`${app.issuer}/enrol/done`);
      await app.services.admin.admins.grant(cliPrincipal(), {
        accountId: account.id,
        role: 'platform',
      });
      const agency = unique('국세청');
      await app.services.admin.admins.putAgency(cliPrincipal(), { name: agency });

      // Sign in: the console sends the browser to One-ID's own sign-in page.
      await page.goto(`${app.issuer}/admin/clients`);
      await page.waitForSelector('#passkey-button');
      expect(page.url()).toMatch(new RegExp(`^${app.issuer}/interaction/`));
      await page.click('#passkey-button');
      await page.waitForURL(`${app.issuer}/admin/clients`);
      expect(await page.locator('html').getAttribute('lang')).toBe('ko');
      expect(await page.textContent('h1')).toBe('기관 시스템');
      expect(await page.textContent('nav.admin-nav')).toContain('김관리');
      expect(await accessibilityProblems(page)).toEqual([]);

      // Register a system: first with a wildcard redirect URI, which is refused naming the field.
      await page.click('#new-client');
      await page.waitForSelector('#f-client_name');
      const clientId = unique('hometax');
      await page.fill('#f-client_id', clientId);
      await page.fill('#f-client_name', '홈택스');
      await page.selectOption('#f-agency', agency);
      await page.fill('#f-redirect_uris', 'https://*.hometax.go.kr/cb');
      await page.selectOption('#f-token_endpoint_auth_method', 'client_secret_basic');
      // The allowance editor: a row per catalogue item.
      await page.check('#claim-name-allowed');
      await page.check('#claim-name-required');
      await page.fill('#claim-name-purpose_ko', '납세자 확인');
      await page.fill('#claim-name-purpose_en', 'Identifying the taxpayer');
      await page.fill('#claim-name-retention_days', '365');
      await page.click('#save-client');
      await page.waitForSelector('.error-summary');
      expect(await page.textContent('.error-summary')).toContain(
        '리디렉션 URI 1번째 줄: 와일드카드(*)는 쓸 수 없습니다.',
      );
      // Focus moves to the summary, so a screen reader reads it first.
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('error-summary');
      expect(await page.getAttribute('#f-redirect_uris', 'aria-invalid')).toBe('true');
      expect(await page.inputValue('#f-client_name')).toBe('홈택스'); // what was typed is kept
      expect(await accessibilityProblems(page)).toEqual([]);
      await page.fill('#f-redirect_uris', 'https://www.hometax.go.kr/cb');
      await page.click('#save-client');
      await page.waitForSelector('#client-secret');
      const secret = await page.inputValue('#client-secret');
      expect(secret).toMatch(/^[\w-]{43}$/);
      expect(await app.services.clients.find(clientId)).toMatchObject({
        agency,
        status: 'active',
        registeredVia: 'console',
      });
      expect(await app.services.clients.allowances(clientId)).toMatchObject([
        { claim: 'name', required: true, retentionDays: 365 },
      ]);

      // Its page, then a secret rotation: a new secret, the old one valid for the grace period.
      await page.click(`a[href="/admin/clients/${clientId}"]`);
      await page.waitForSelector('#rotate-secret');
      expect(await page.textContent('#client-status')).toBe('사용 중');
      expect(await accessibilityProblems(page)).toEqual([]);
      await page.click('#rotate-secret');
      await page.waitForSelector('#previous-valid');
      const rotated = await page.inputValue('#client-secret');
      expect(rotated).toMatch(/^[\w-]{43}$/);
      expect(rotated).not.toBe(secret);
      expect(await app.services.clients.matchesPreviousSecret(clientId, secret)).toBe(true);

      // The audit log: who did what, from where, with before/after; then in English.
      await page.goto(
        `${app.issuer}/admin/audit?subject=${encodeURIComponent(`client:${clientId}`)}`,
      );
      await page.waitForSelector('table.audit');
      const actions = await page.locator('table.audit tbody tr .action-code').allTextContents();
      expect(actions).toEqual(['clients.secret.rotated', 'clients.created']);
      expect(await page.locator('table.audit tbody tr .action-label').first().textContent()).toBe(
        '비밀키 재발급',
      );
      expect(await page.locator('table.audit tbody tr td.actor').first().textContent()).toBe(
        '김관리',
      );
      expect(await accessibilityProblems(page)).toEqual([]);
      await page.click('a.lang');
      await page.waitForURL(/lang=en/);
      expect(await page.locator('html').getAttribute('lang')).toBe('en');
      expect(await page.textContent('h1')).toBe('Audit log');
      expect(await page.locator('table.audit tbody tr').count()).toBe(2);

      // The other pages render, labelled and navigable, in Korean (the upstream list with one in it).
      await app.services.federation.upstreams.add(
        {
          id: unique('mid'),
          issuer: `https://${unique('mid')}.example.go.kr`,
          client_id: 'one-id',
          client_secret: 's3cret-value',
          acr: 'urn:one-id:loa:low',
          display_name: { ko: '모바일 신분증', en: 'Mobile ID' },
        },
        'cli',
      );
      await page.goto(`${app.issuer}/admin?lang=ko`);
      for (const [path, heading] of [
        ['/admin', '김관리'],
        ['/admin/agencies', '기관'],
        ['/admin/admins', '관리자'],
        ['/admin/dcr', '동적 등록 토큰'],
        ['/admin/upstreams', '외부 로그인 제공자'],
      ] as const) {
        await page.goto(`${app.issuer}${path}`);
        expect(await page.textContent('h1'), path).toContain(heading);
        expect(
          await page.getAttribute(`nav.admin-nav a[href="${path}"]`, 'aria-current'),
          path,
        ).toBe('page');
        expect(await accessibilityProblems(page), path).toEqual([]);
      }
      // The upstream provider form, and the system form with its further fields, in use.
      await page.goto(`${app.issuer}/admin/upstreams/new`);
      expect(await page.textContent('h1')).toBe('외부 로그인 제공자 추가');
      expect(await accessibilityProblems(page), '/admin/upstreams/new').toEqual([]);
      await page.goto(`${app.issuer}/admin/clients/${clientId}/edit`);
      await page.waitForSelector('#f-sector_identifier_uri');
      expect(await accessibilityProblems(page), '/admin/clients/:id/edit').toEqual([]);

      // Every form carries a CSRF token; a forged POST without one is refused.
      const forged = await page.request.post(`${app.issuer}/admin/clients/${clientId}/disable`, {
        form: {},
        maxRedirects: 0,
      });
      expect(forged.status()).toBe(403);
      expect((await app.services.clients.find(clientId))?.status).toBe('active');

      // Signing out ends the console session.
      await page.click('nav.admin-nav form.signout button');
      await page.waitForSelector('#signed-out-title');
      const back = await page.request.get(`${app.issuer}/admin`, { maxRedirects: 0 });
      expect(back.status()).toBe(302);
      expect(back.headers().location).toMatch(/\/auth\?client_id=one-id-admin&/);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
