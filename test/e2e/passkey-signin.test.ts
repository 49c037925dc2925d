// The citizen's journey in real Chromium: enrol a passkey from the counter's link, sign in to
// an agency's system (discoverable and email-initiated), recover from a failed ceremony, and
// meet a readable page for a dead link. openid-client plays the agency's system (the RP).
// UPDATE_SCREENSHOTS=1 also writes phone-size screenshots of the pages to docs/screenshots/.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as oidc from 'openid-client';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { addVirtualAuthenticator, launchChromium } from '../support/chromium.ts';
import { authorizationRequest, discover, registerClient } from '../support/flows.ts';

const SCREENSHOTS = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));
const WAIT = 10_000;

let app: TestApp;
let browser: Browser;

beforeAll(async () => {
  [app, browser] = await Promise.all([startTestApp(), launchChromium()]);
});
afterAll(async () => {
  await browser?.close();
  await app?.stop();
});

/** A phone-size tab in a fresh profile; fails the test on script errors and CSP violations. */
const phonePage = async () => {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, isMobile: true, hasTouch: true, locale: 'ko-KR' });
  context.setDefaultTimeout(WAIT);
  context.setDefaultNavigationTimeout(WAIT);
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy|Refused to/i.test(message.text())) problems.push(`console: ${message.text()}`);
  });
  onTestFinished(async () => {
    await context.close();
  });
  return { page, problems };
};

const screenshot = async (page: Page, name: string) => {
  if (process.env.UPDATE_SCREENSHOTS !== '1') return;
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true, animations: 'disabled', caret: 'hide' });
};

/** Issues a link at the "counter" and registers a passkey through the enrolment page. */
const enrolInBrowser = async (page: Page, citizen: { name: string; birthdate: string; email?: string; phone?: string }, shots?: { lang: 'ko' | 'en' }) => {
  const { account, url } = await app.services.accounts.enrolCitizen(citizen, 'test');
  await page.goto(url);
  if (shots?.lang === 'en') {
    await page.click('a.lang');
    await page.waitForURL(/[?&]lang=en/);
  }
  expect(await page.locator('html').getAttribute('lang')).toBe(shots?.lang ?? 'ko');
  if (shots) await screenshot(page, `enrol-${shots.lang}`);
  await page.click('#register-button');
  await page.waitForURL(`${app.issuer}/enrol/done`);
  return { account, url };
};

/**
 * An agency system whose callback no server answers: Chromium's request to it is fulfilled
 * here, and the test reads the code from the URL the browser landed on.
 */
const agency = async (page: Page, port: number) => {
  const client = await registerClient(app, { redirect_uris: [`http://localhost:${port}/cb`] });
  const config = await discover(app, client);
  await page.route(`http://localhost:${port}/**`, (route) => route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>RP</title><p>back at the agency</p>' }));
  return { client, config };
};

const approveConsent = async (page: Page, redirectUri: string, shot?: string) => {
  const approve = page.locator('button[name=decision][value=approve]');
  await approve.waitFor({ state: 'visible' });
  if (shot) await screenshot(page, shot);
  await approve.click();
  await page.waitForURL((url) => url.href.startsWith(redirectUri));
  return new URL(page.url());
};

describe('passkey sign-in in Chromium', () => {
  it('enrols a discoverable passkey and signs in with the passkey button', async () => {
    const { page, problems } = await phonePage();
    const authenticator = await addVirtualAuthenticator(page, { residentKey: true });
    const { account } = await enrolInBrowser(page, { name: '김민지', birthdate: '1992-07-15', email: 'minji@example.com' }, { lang: 'ko' });
    const [credential] = await authenticator.credentials();
    expect(credential).toMatchObject({ isResidentCredential: true, rpId: 'localhost' });
    expect(await page.locator('#message-body').textContent()).toContain('패스키가 등록되었습니다');

    const { client, config } = await agency(page, 4301);
    const request = await authorizationRequest(config, client.redirectUri);
    await page.goto(request.url.href);
    await page.waitForURL(/\/interaction\//);
    await page.locator('#passkey-button').waitFor({ state: 'visible' });
    await screenshot(page, 'login-ko');
    await page.click('#passkey-button');
    const callback = await approveConsent(page, client.redirectUri, 'consent-ko');
    expect(callback.searchParams.get('state')).toBe(request.state);
    expect(callback.searchParams.get('code')).toBeTruthy();

    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce });
    const claims = tokens.claims()!;
    expect(claims.acr).toBe('urn:one-id:loa:substantial');
    expect(claims.amr).toContain('user');
    expect(claims.sub).not.toBe(account.id);
    const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
    expect(userinfo).toMatchObject({ name: '김민지', email: 'minji@example.com' });
    expect(problems).toEqual([]);
  });
});
