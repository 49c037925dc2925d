// The consent page and My One-ID in real Chromium: keyboard-only use, an automated accessibility
// check (axe-core, WCAG 2.1 A/AA rules) with no serious violations, and phone-size screenshots.
// The pages say what they promise (issue 17): the enrolment's next step, the consent's recipient,
// keeper, withdrawal and policy in the page's language (English names on the English page), a
// visible sign-out, an activity list naming the service on the 24-hour clock, and a withdrawal
// that asks first and says what happens.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPrincipal } from '../../src/admin/index.ts';
import { MESSAGES, translator } from '../../src/http/render/messages.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import {
  accessibilityProblems,
  addVirtualAuthenticator,
  citizenContext,
  launchChromium,
  screenshot,
} from '../support/chromium.ts';
import { authorizationRequest, discover, registerClient } from '../support/flows.ts';

const WAIT = 10_000;

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

/** Presses Tab until the element matching `selector` has focus (keyboard-only navigation). */
const tabTo = async (page: Page, selector: string, maxTabs = 40) => {
  for (let i = 0; i < maxTabs; i += 1) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
  }
  throw new Error(`could not reach ${selector} with the keyboard`);
};

describe.each(['ko', 'en'] as const)('consent and My One-ID pages (%s)', (lang) => {
  const t = MESSAGES[lang];
  const tr = translator(lang);
  const system = lang === 'ko' ? '복지 서비스' : 'Welfare service';
  const agency = lang === 'ko' ? '보건복지부' : 'Ministry of Health and Welfare';

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
      // The next step is offered: My One-ID first, then the service the citizen came for.
      expect(await page.getAttribute('#go-account', 'href')).toBe('/account');
      expect(await page.getAttribute('#go-systems', 'href')).toBe('/account/systems');
      expect(await page.textContent('#go-account')).toBe(t['enrol.done.account']);
      expect(await accessibilityProblems(page)).toEqual([]);
      await screenshot(page, `enrol-done-${lang}`);

      // Registered in both languages: the English page names them in English.
      const client = await registerClient(app, {
        redirect_uris: [`${rpOrigin}/cb-${lang}`],
        client_name: '복지 서비스',
        'client_name#en': 'Welfare service',
        agency: '보건복지부',
        policy_uri: 'https://welfare.example.go.kr/privacy',
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
      await app.services.admin.admins.putAgency(cliPrincipal(), {
        name: '보건복지부',
        name_en: 'Ministry of Health and Welfare',
      });
      const request = await authorizationRequest(await discover(app, client), client.redirectUri, {
        scope: 'openid profile email',
      });
      await page.goto(request.url.toString());
      await tabTo(page, '#passkey-button');
      await page.keyboard.press('Enter');
      await page.waitForSelector('form[action$="/consent"]');
      expect(await page.locator('html').getAttribute('lang')).toBe(lang);
      expect(await page.textContent('h1')).toBe(t['consent.title']);
      const names = { client: system, agency };
      expect(await page.textContent('#consent-recipient')).toBe(
        tr('consent.recipient.value', names),
      );
      expect(await page.textContent('#consent-keeper')).toBe(tr('consent.keeper', names));
      expect(await page.textContent('#consent-withdrawal')).toBe(tr('consent.withdrawal', names));
      expect(await page.getAttribute('#consent-policy a', 'href')).toBe(
        'https://welfare.example.go.kr/privacy',
      );
      // No jargon; name first, the member number last.
      expect(await page.textContent('main')).not.toMatch(/식별자|identifier/i);
      expect(
        await page
          .locator('.consent-item .item-label')
          .evaluateAll((l) => l.map((e) => e.textContent)),
      ).toEqual(
        lang === 'ko'
          ? ['이름', '생년월일', '이메일 주소', t['claim.sub']]
          : ['Name', 'Date of birth', 'Email address', t['claim.sub']],
      );
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
      expect(await page.textContent('#consents ~ *, body')).toContain(system);
      // Every section names the system in the page's language (sessions, consents, activity).
      if (lang === 'en') expect(await page.textContent('main')).not.toContain('복지 서비스');
      // A visible sign-out.
      expect(await page.locator('#sign-out').isVisible()).toBe(true);
      expect(await page.getAttribute('#sign-out', 'href')).toBe('/session/end');
      // The activity names the service, at a 24-hour Korean time.
      const activity = await page.locator('#activity ~ ul li').allTextContents();
      expect(activity).toContainEqual(
        expect.stringContaining(
          tr('activity.at', { action: t['activity.auth.passkey.verified'], system }),
        ),
      );
      expect(activity).toContainEqual(
        expect.stringContaining(
          tr('activity.at', { action: t['activity.consent.granted'], system }),
        ),
      );
      for (const line of activity) expect(line).not.toMatch(/오전|오후|\b[AP]M\b/i);
      expect(activity[0]).toMatch(/\b([01]\d|2[0-3]):[0-5]\d\b/);
      expect(await accessibilityProblems(page)).toEqual([]);
      await screenshot(page, `account-${lang}`);
      // Withdrawal asks first, on its own page, and says what happens to data already shared.
      await tabTo(page, 'a.withdraw');
      await page.keyboard.press('Enter');
      await page.waitForSelector('#withdraw-confirm');
      expect(await page.textContent('#withdraw-question')).toBe(
        tr('withdraw.question', { client: system, agency }),
      );
      expect(await page.textContent('#withdraw-effects')).toContain(
        tr('withdraw.effect.kept', { agency }),
      );
      expect(await accessibilityProblems(page)).toEqual([]);
      await screenshot(page, `withdraw-${lang}`);
      await tabTo(page, '#withdraw-confirm');
      await page.keyboard.press('Enter');
      await page.waitForURL(/done=withdrawn/);
      expect(await page.locator('[role="status"]').first().textContent()).toBeTruthy();
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
