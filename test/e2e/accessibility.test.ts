// WCAG 2.1 A/AA in real Chromium (axe-core, the check test/e2e/consent-pages.test.ts runs on the
// consent page and My One-ID): the sign-in page, the passkey enrolment page and the error pages a
// citizen meets (a dead enrolment link, the engine's refusal of a bad request), in Korean and English, on a phone-size
// screen. No serious or critical violation is allowed.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MESSAGES } from '../../src/http/render/messages.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import {
  accessibilityProblems,
  citizenContext,
  launchChromium,
  pageProblems,
} from '../support/chromium.ts';
import { authorizationRequest, discover, registerClient } from '../support/flows.ts';

let app: TestApp;
let browser: Browser;

beforeAll(async () => {
  [app, browser] = await Promise.all([startTestApp(), launchChromium()]);
});
afterAll(async () => {
  await browser?.close();
  await app?.stop();
});

/** Opens `url` in a fresh phone-size tab in `lang`, checks the page's language and runs axe. */
const check = async (url: string, lang: 'ko' | 'en', ready: string) => {
  const context = await citizenContext(browser, {
    viewport: { width: 390, height: 844 },
    isMobile: true,
    hasTouch: true,
    locale: lang === 'ko' ? 'ko-KR' : 'en-US',
  });
  try {
    const page = await context.newPage();
    const problems = pageProblems(page);
    // One-ID's own pages take ?lang; the engine's authorization request takes ui_locales.
    const target = new URL(url);
    target.searchParams.set(target.pathname === '/auth' ? 'ui_locales' : 'lang', lang);
    const response = await page.goto(target.toString());
    await page.waitForSelector(ready).catch(async (error: Error) => {
      throw new Error(
        `${error.message}\n${page.url()} ${response?.status()}: ${(await page.content()).slice(0, 1500)}`,
      );
    });
    expect(await page.locator('html').getAttribute('lang')).toBe(lang);
    return {
      status: response?.status(),
      violations: await accessibilityProblems(page),
      problems,
      title: await page.title(),
      text: await page.locator('main').innerText(),
      technical: await page.locator('details.technical p').allTextContents(),
    };
  } finally {
    await context.close();
  }
};

describe.each(['ko', 'en'] as const)('accessibility (%s)', (lang) => {
  it('the sign-in page', async () => {
    const client = await registerClient(app, {
      client_name: lang === 'ko' ? '정부24' : 'Government 24',
      agency: lang === 'ko' ? '행정안전부' : 'Ministry of the Interior and Safety',
    });
    const request = await authorizationRequest(await discover(app, client), client.redirectUri);
    const result = await check(request.url.toString(), lang, '#passkey-button');
    expect(result.status).toBe(200);
    expect(result.violations).toEqual([]);
    expect(result.problems).toEqual([]);
  });

  it('the passkey enrolment page', async () => {
    const { url } = await app.services.accounts.enrolCitizen(
      { name: lang === 'ko' ? '오세훈' : 'Sehun Oh', birthdate: '1980-10-10' },
      'test',
    );
    const result = await check(url, lang, '#register-button');
    expect(result.status).toBe(200);
    expect(result.violations).toEqual([]);
    expect(result.problems).toEqual([]);
  });

  it('the error pages: a dead enrolment link and a refused authorization request', async () => {
    const dead = await check(
      `${app.issuer}/enrol/not-a-real-link-token-000000000000`,
      lang,
      '#message-title',
    );
    expect(dead.status).toBeGreaterThanOrEqual(400);
    expect(dead.status).toBeLessThan(500);
    // A plain title per error, the next steps, the code small for the help desk.
    expect(dead.title).toContain(MESSAGES[lang]['errtitle.ERR_ENROLMENT_UNKNOWN']);
    expect(dead.text).toContain(MESSAGES[lang]['next.account']);
    expect(dead.violations).toEqual([]);
    // The engine's error page (src/http/sign-in/engine-pages.ts): an authorization request from an unknown system.
    const engine = await check(
      `${app.issuer}/auth?client_id=no-such-system&response_type=code&scope=openid`,
      lang,
      'h1',
    );
    expect(engine.status).toBe(400);
    // The engine's English text ("client is invalid") never reaches the page: ours does.
    expect(engine.title).toContain(MESSAGES[lang]['errtitle.invalid_client']);
    expect(engine.text).toContain(MESSAGES[lang]['oauth.invalid_client']);
    expect(engine.text).not.toMatch(/client is invalid|client not found/);
    // The developers' disclosure too says it in the page's language (engine-texts.ts).
    expect(engine.technical).toEqual([MESSAGES[lang]['engine.client_invalid']]);
    expect(engine.violations).toEqual([]);
    expect([...dead.problems, ...engine.problems]).toEqual([]);
  });
});
