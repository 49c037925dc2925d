// The console in real Chromium at phone (390 px) and desktop size, Korean and English: the
// allowance editor (a bad retention: a Korean error next to its row, focus on the summary), the
// disable confirmation the browser enforces, returning a draft with a reason, the audit log's
// action select; axe-core finds no serious WCAG 2.1 A/AA violation on any of these pages;
// checkboxes are 20 px and table buttons keep their words on one line.
// UPDATE_SCREENSHOTS=1 also writes the pages to docs/screenshots/admin-*.png.
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPrincipal } from '../../src/admin/index.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import {
  accessibilityProblems,
  launchChromium,
  pageProblems,
  screenshot,
} from '../support/chromium.ts';
import { consoleAdmin, type ConsoleAdmin } from './console-support.ts';
import { unique } from './support.ts';

const SIZES = { phone: { width: 390, height: 844 }, desktop: { width: 1280, height: 900 } };
let app: TestApp;
let browser: Browser;
let platform: ConsoleAdmin;
const AGENCY = unique('국민건강보험공단');
let systemId: string;

beforeAll(async () => {
  [app, browser] = await Promise.all([startTestApp(), launchChromium()]);
  platform = await consoleAdmin(app, 'platform');
  const { client } = await app.services.admin.registry.create(cliPrincipal(), {
    client_id: unique('nhis'),
    client_name: '건강보험 민원',
    agency: AGENCY,
    redirect_uris: ['https://minwon.nhis.example.go.kr/cb'],
    token_endpoint_auth_method: 'none',
    allowed_claims: [
      {
        claim: 'name',
        purpose: { ko: '가입자 확인', en: 'Identifying the insured person' },
        required: true,
        retention_days: 365,
      },
    ],
  });
  systemId = client.client_id;
});
afterAll(async () => {
  await browser?.close();
  await app?.stop();
});

/** A Chromium context holding the administrator's console session (signed in over HTTP). */
const signedIn = async (admin: ConsoleAdmin, size: keyof typeof SIZES): Promise<BrowserContext> => {
  const context = await browser.newContext({ locale: 'ko-KR', viewport: SIZES[size] });
  context.setDefaultTimeout(15_000);
  await context.addCookies(
    [...admin.browser.jar].map(([name, value]) => ({ name, value, url: app.issuer })),
  );
  return context;
};

describe('admin console in Chromium', () => {
  it('the allowance editor: a bad retention gets a Korean error by its row, focus on the summary; then saves', async () => {
    const context = await signedIn(platform, 'phone');
    const page = await context.newPage();
    const problems = pageProblems(page);
    try {
      await page.goto(`${app.issuer}/admin/clients/${systemId}/edit?lang=ko`);
      expect(await page.isChecked('#claim-name-allowed')).toBe(true);
      expect(await page.inputValue('#claim-name-purpose_ko')).toBe('가입자 확인');
      await page.check('#claim-birthdate-allowed');
      await page.fill('#claim-birthdate-purpose_ko', '연령 확인');
      await page.fill('#claim-birthdate-purpose_en', 'Checking age');
      await page.fill('#claim-birthdate-retention_days', '열흘');
      await page.click('#save-client');
      await page.waitForSelector('.error-summary');
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('error-summary');
      expect(await page.textContent('#e-claim-birthdate-retention_days')).toBe(
        '보유 기간은 1일에서 3650일 사이의 숫자로 적어 주세요.',
      );
      expect(await page.getAttribute('#claim-birthdate-retention_days', 'aria-invalid')).toBe(
        'true',
      );
      expect(await page.inputValue('#claim-birthdate-retention_days')).toBe('열흘');
      // The summary's link takes the administrator to the field.
      await page.click('.error-summary a[href="#claim-birthdate-retention_days"]');
      expect(await page.evaluate(() => document.activeElement?.id)).toBe(
        'claim-birthdate-retention_days',
      );
      expect(await accessibilityProblems(page)).toEqual([]);
      await page.fill('#claim-birthdate-retention_days', '10');
      await page.click('#save-client');
      await page.waitForURL(/done=updated/);
      expect((await app.services.clients.allowances(systemId)).map((a) => a.claim).sort()).toEqual([
        'birthdate',
        'name',
      ]);
      // Phone size: every checkbox shown is at least 20 px; an unticked row shows only its box.
      await page.goto(`${app.issuer}/admin/clients/${systemId}/edit`);
      expect(await page.isVisible('#claim-email-purpose_ko')).toBe(false);
      await page.check('#claim-email-allowed');
      expect(await page.isVisible('#claim-email-purpose_ko')).toBe(true);
      const boxes = await page.$$eval('input[type="checkbox"]', (els) =>
        els
          .filter((e) => (e as HTMLElement).offsetParent !== null)
          .map((e) => Math.round(e.getBoundingClientRect().width)),
      );
      expect(boxes.length).toBeGreaterThan(10);
      expect(boxes.filter((w) => w < 20)).toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('disabling waits for the ticked box; a draft is returned with a reason; the audit log filters by a chosen action', async () => {
    const context = await signedIn(platform, 'desktop');
    const page = await context.newPage();
    const problems = pageProblems(page);
    try {
      await page.goto(`${app.issuer}/admin/clients/${systemId}?lang=ko`);
      await page.click('#disable-client'); // the box unticked: the browser does not send it
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('confirm-disable');
      expect((await app.services.clients.find(systemId))?.status).toBe('active');
      await page.check('#confirm-disable');
      await page.click('#disable-client');
      await page.waitForURL(/done=disabled/);
      expect(await page.textContent('#enable-client')).toBe('다시 사용');
      expect(await accessibilityProblems(page)).toEqual([]);
      await page.click('#enable-client');
      await page.waitForURL(/done=reenabled/);

      const { client: draft } = await app.services.admin.registry.create(cliPrincipal(), {
        client_name: '요양기관 조회',
        agency: AGENCY,
        status: 'draft',
        redirect_uris: ['https://yoyang.nhis.example.go.kr/cb'],
        token_endpoint_auth_method: 'none',
      });
      await page.goto(`${app.issuer}/admin/clients/${draft.client_id}`);
      expect(await accessibilityProblems(page)).toEqual([]);
      await page.fill('#f-reason', '리디렉션 URI의 호스트를 확인해 주세요.');
      await page.click('#return-client');
      await page.waitForURL(/done=returned/);
      expect(await page.textContent('#review-returned')).toContain(
        '리디렉션 URI의 호스트를 확인해 주세요.',
      );
      expect(await accessibilityProblems(page)).toEqual([]);

      await page.goto(`${app.issuer}/admin/audit`);
      await page.selectOption('#f-action', 'clients.review.returned');
      await page.click('#audit-search');
      await page.waitForURL(/action=clients.review.returned/);
      const labels = await page.locator('table.audit .action-label').allTextContents();
      expect(labels.length).toBeGreaterThan(0);
      expect(new Set(labels)).toEqual(new Set(['검토: 보완 요청']));
      expect(await page.locator('table.audit td.actor').first().textContent()).toBe(
        'platform 관리자',
      );
      expect(await accessibilityProblems(page)).toEqual([]);

      // The administrators page: names, the revoke button on one line at phone size.
      await page.setViewportSize(SIZES.phone);
      await page.goto(`${app.issuer}/admin/admins`);
      const revoke = page.locator('td form button.link').first();
      const box = (await revoke.boundingBox())!;
      expect(box.height).toBeLessThan(50);
      expect(box.width).toBeGreaterThan(box.height);
      expect(await accessibilityProblems(page)).toEqual([]);
      await page.goto(`${app.issuer}/admin/admins?q=${encodeURIComponent('platform')}`);
      expect(await page.locator('input[name="account_id"]').count()).toBeGreaterThan(0);
      expect(await accessibilityProblems(page)).toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it.each(['phone', 'desktop'] as const)(
    'home, system form and audit log pass axe in Korean and English (%s)',
    async (size) => {
      const context = await signedIn(platform, size);
      const page = await context.newPage();
      try {
        for (const lang of ['ko', 'en'] as const) {
          for (const [name, path] of [
            ['home', '/admin'],
            ['client-form', `/admin/clients/${systemId}/edit`],
            ['audit', `/admin/audit?action=clients.*`],
          ] as const) {
            await page.goto(`${app.issuer}${path}${path.includes('?') ? '&' : '?'}lang=${lang}`);
            expect(await page.locator('html').getAttribute('lang')).toBe(lang);
            expect(await accessibilityProblems(page), `${path} ${lang}`).toEqual([]);
            await screenshot(page, `admin-${name}-${size}-${lang}`);
          }
        }
      } finally {
        await context.close();
      }
    },
  );
});
