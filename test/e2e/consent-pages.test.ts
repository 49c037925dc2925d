// The consent page and My One-ID in real Chromium: keyboard-only use, an automated accessibility
// check (axe-core, WCAG 2.1 A/AA rules) with no serious violations, and phone-size screenshots.
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { addVirtualAuthenticator, citizenContext, launchChromium } from '../support/chromium.ts';
import { authorizationRequest, discover, registerClient } from '../support/flows.ts';

const WAIT = 10_000;
const SCREENSHOTS = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

let app: TestApp;
let browser: Browser;
// A real (tiny) agency callback: keyboard-initiated navigations are not reliably caught by
// Playwright's request interception, a listening server is.
let rp: Server;
let rpOrigin: string;

beforeAll(async () => {
  rp = createServer((_req, res) => {
    res.setHeader('content-type', 'text/html');
    res.end('<!doctype html><html lang="en"><title>Agency</title><p>back at the agency</p></html>');
  });
  await new Promise<void>((resolve) => rp.listen(0, '127.0.0.1', resolve));
  rpOrigin = `http://localhost:${(rp.address() as AddressInfo).port}`;
  [app, browser] = await Promise.all([startTestApp(), launchChromium()]);
});
afterAll(async () => {
  await browser?.close();
  await app?.stop();
  rp?.close();
});

/** axe-core's WCAG 2.1 A/AA rules; returns the serious and critical violations. */
const accessibilityProblems = async (page: Page) => {
  await page.evaluate(AXE);
  const result = (await page.evaluate(() =>
    (window as unknown as { axe: { run: (o: unknown) => Promise<unknown> } }).axe.run({
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    }),
  )) as { violations: { id: string; impact: string; nodes: { target: string[] }[] }[] };
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
};

const screenshot = async (page: Page, name: string) => {
  if (process.env.UPDATE_SCREENSHOTS !== '1') return;
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({
    path: join(SCREENSHOTS, `${name}.png`),
    fullPage: true,
    animations: 'disabled',
    caret: 'hide',
  });
};

/** Presses Tab until the element matching `selector` has focus (keyboard-only navigation). */
const tabTo = async (page: Page, selector: string, maxTabs = 40) => {
  for (let i = 0; i < maxTabs; i += 1) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
  }
  throw new Error(`could not reach ${selector} with the keyboard`);
};

describe.each(['ko', 'en'] as const)('consent and My One-ID pages (%s)', (lang) => {
  it('work with the keyboard alone and pass the accessibility check', async () => {
    // Sign-in goes through the passkey button; the autofill offer is switched off.
    const context = await citizenContext(
      browser,
      {
        viewport: { width: 390, height: 844 },
        isMobile: true,
        hasTouch: true,
        locale: lang === 'ko' ? 'ko-KR' : 'en-US',
      },
      { waitMs: WAIT },
    );
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    await addVirtualAuthenticator(page, { residentKey: true });
    try {
      const { url } = await app.services.accounts.enrolCitizen(
        {
          name: lang === 'ko' ? '정하늘' : 'Haneul Jung',
          birthdate: '1988-08-08',
          email: `haneul-${lang}@example.com`,
        },
        'test',
      );
      await page.goto(`${url}?lang=${lang}`);
      await tabTo(page, '#register-button');
      await page.keyboard.press('Enter');
      await page.waitForURL(`${app.issuer}/enrol/done`);

      const client = await registerClient(app, {
        redirect_uris: [`${rpOrigin}/cb-${lang}`],
        client_name: lang === 'ko' ? '복지 서비스' : 'Welfare service',
        agency: lang === 'ko' ? '보건복지부' : 'Ministry of Health and Welfare',
        allowed_claims: [
          {
            claim: 'name',
            purpose: { ko: '신청인 확인', en: 'Identifying the applicant' },
            required: true,
            retention_days: 365,
          },
          {
            claim: 'birthdate',
            purpose: { ko: '연령 기준 확인', en: 'Checking the age criteria' },
            required: false,
            retention_days: 365,
          },
          {
            claim: 'email',
            purpose: { ko: '결과 안내', en: 'Telling you the result' },
            required: false,
            retention_days: 90,
          },
        ],
      });
      const request = await authorizationRequest(await discover(app, client), client.redirectUri, {
        scope: 'openid profile email',
      });
      await page.goto(request.url.toString());
      await tabTo(page, '#passkey-button');
      await page.keyboard.press('Enter');
      await page.waitForSelector('form[action$="/consent"]');
      expect(await page.locator('html').getAttribute('lang')).toBe(lang);
      expect(await accessibilityProblems(page)).toEqual([]);
      await screenshot(page, `consent-${lang}`);
      // Opt in to one optional item with the keyboard, then agree.
      await tabTo(page, 'input[value="email"]');
      await page.keyboard.press('Space');
      expect(await page.isChecked('input[value="email"]')).toBe(true);
      await tabTo(page, 'button[value="approve"]');
      await page.keyboard.press('Space');
      await page.waitForURL((u) => u.origin === rpOrigin);
      expect(new URL(page.url()).searchParams.get('code')).toBeTruthy();

      await page.goto(`${app.issuer}/account`);
      await page.waitForSelector('#consents');
      expect(await page.textContent('#consents ~ *, body')).toContain(
        lang === 'ko' ? '복지 서비스' : 'Welfare service',
      );
      expect(await accessibilityProblems(page)).toEqual([]);
      await screenshot(page, `account-${lang}`);
      await tabTo(page, 'form[action$="/withdraw"] button');
      await page.keyboard.press('Enter');
      await page.waitForURL(/done=withdrawn/);
      expect(await page.locator('[role="status"]').first().textContent()).toBeTruthy();
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
