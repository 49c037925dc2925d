// The sign-out question in real Chromium: it names the system asking and the systems the citizen
// would leave; "sign out of <system> only" says that One-ID stays signed in (and it does), and
// "sign out of all services" ends the session and names the systems told.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MESSAGES } from '../../src/http/render/messages.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import {
  addVirtualAuthenticator,
  citizenContext,
  launchChromium,
  pageProblems,
  screenshot,
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

/** An agency system whose callback Chromium answers itself; signs the browser in to it. */
const signInTo = async (page: Page, name: string, port: number) => {
  const client = await registerClient(app, {
    client_name: name,
    redirect_uris: [`http://localhost:${port}/cb`],
  });
  await page.route(`http://localhost:${port}/**`, (route) =>
    route.fulfill({
      status: 200,
      contentType: 'text/html',
      body: '<!doctype html><title>RP</title>',
    }),
  );
  const request = await authorizationRequest(await discover(app, client), client.redirectUri);
  await page.goto(request.url.href);
  const passkey = page.locator('#passkey-button');
  const approve = page.locator('button[name=decision][value=approve]');
  await passkey.or(approve).first().waitFor({ state: 'visible' });
  if (await passkey.isVisible()) await passkey.click();
  await approve.click();
  await page.waitForURL((url) => url.href.startsWith(client.redirectUri));
  return client;
};

describe('the sign-out choice', () => {
  it('"only this system" keeps One-ID signed in and says so; "all services" signs out everywhere', async () => {
    const context = await citizenContext(browser, { viewport: { width: 1280, height: 900 } });
    try {
      const page = await context.newPage();
      const problems = pageProblems(page);
      await addVirtualAuthenticator(page, { residentKey: true });
      const { url } = await app.services.accounts.enrolCitizen(
        { name: '오세훈', birthdate: '1988-02-02', email: 'sehun@example.com' },
        'test',
      );
      await page.goto(url);
      await page.click('#register-button');
      await page.waitForURL(`${app.issuer}/enrol/done`);
      const welfare = await signInTo(page, '복지로', 4371);
      await signInTo(page, '홈택스', 4372);

      // The system asks: the question names it and both systems of the session.
      await page.goto(`${app.issuer}/session/end?client_id=${welfare.clientId}`);
      expect(await page.locator('#logout-asking').textContent()).toBe(
        MESSAGES.ko['logout.asking'].replace('{client}', '복지로'),
      );
      expect(await page.locator('#logout-systems li').allTextContents()).toEqual(
        expect.arrayContaining(['복지로', '홈택스']),
      );
      await screenshot(page, 'logout-question-desktop-ko');
      await page.click('#logout-stay');
      await page.waitForURL(/\/session\/end\/success/);
      expect(await page.locator('h1').textContent()).toBe('복지로 로그아웃 완료');
      expect(await page.locator('#still-signed-in').textContent()).toBe(
        MESSAGES.ko['logout.still'],
      );
      expect(await page.locator('main').textContent()).not.toContain(MESSAGES.ko['logout.done']);

      await screenshot(page, 'logout-client-desktop-ko');
      // Still signed in to One-ID: My One-ID opens without a sign-in.
      await page.goto(`${app.issuer}/account`);
      await page.waitForURL(`${app.issuer}/account`);

      // "Sign out of all services" from the signed-out page: the question, without a system
      // asking, lists only the system left; then the session ends and the page names it.
      await page.goto(`${app.issuer}/session/end/success?client_id=${welfare.clientId}`);
      await page.click('#logout-everywhere');
      await page.waitForURL(`${app.issuer}/session/end`);
      expect(await page.locator('#logout-asking').count()).toBe(0);
      expect(await page.locator('#logout-systems li').allTextContents()).toEqual(['홈택스']);
      expect(await page.locator('a#logout-stay').getAttribute('href')).toBe('/account');
      await page.click('#logout-everywhere');
      await page.waitForURL(/\/session\/end\/success$/);
      expect(await page.locator('#message-body').textContent()).toBe(MESSAGES.ko['logout.done']);
      expect(await page.locator('#signed-out-systems li').allTextContents()).toEqual(['홈택스']);
      await page.goto(`${app.issuer}/account`);
      await page.waitForURL(/\/interaction\//);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
