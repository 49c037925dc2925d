// The citizen's journey in real Chromium: enrol a passkey from the counter's link, sign in to
// an agency's system (discoverable and email-initiated), recover from a failed ceremony, and
// meet a readable page for a dead link. openid-client plays the agency's system (the RP).
// UPDATE_SCREENSHOTS=1 also writes phone-size screenshots of the pages to docs/screenshots/.
import * as oidc from 'openid-client';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
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

/**
 * A phone-size tab in a fresh profile, collecting script errors and CSP violations. Chromium
 * answers a conditional (autofill) request from a virtual authenticator at once, without the
 * pick a person makes, so the login page would sign in as it loads. Unless `autofill` is asked
 * for, the page is told the browser has no autofill, so that the buttons run the ceremony.
 */
const phonePage = async ({ autofill = false } = {}) => {
  const context = await citizenContext(
    browser,
    { viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, isMobile: true, hasTouch: true },
    { waitMs: WAIT, autofill },
  );
  const page = await context.newPage();
  const problems = pageProblems(page);
  onTestFinished(async () => {
    await context.close();
  });
  return { page, problems };
};

/** Issues a link at the "counter" and registers a passkey through the enrolment page. */
const enrolInBrowser = async (
  page: Page,
  citizen: { name: string; birthdate: string; email?: string; phone?: string },
  shots?: { lang: 'ko' | 'en' },
) => {
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
  await page.route(`http://localhost:${port}/**`, (route) =>
    route.fulfill({
      status: 200,
      contentType: 'text/html',
      body: '<!doctype html><title>RP</title><p>back at the agency</p>',
    }),
  );
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
    const { account } = await enrolInBrowser(
      page,
      { name: '김민지', birthdate: '1992-07-15', email: 'minji@example.com' },
      { lang: 'ko' },
    );
    const [credential] = await authenticator.credentials();
    expect(credential).toMatchObject({ isResidentCredential: true, rpId: 'localhost' });
    expect(await page.locator('#message-body').textContent()).toBe(MESSAGES.ko['enrol.done.body']);

    const { client, config } = await agency(page, 4301);
    const request = await authorizationRequest(config, client.redirectUri);
    await page.goto(request.url.href);
    await page.waitForURL(/\/interaction\//);
    await page.locator('#passkey-button').waitFor({ state: 'visible' });
    await screenshot(page, 'login-ko');
    await page.click('#passkey-button');
    const callback = await approveConsent(page, client.redirectUri);
    expect(callback.searchParams.get('state')).toBe(request.state);
    expect(callback.searchParams.get('code')).toBeTruthy();

    const tokens = await oidc.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
      expectedNonce: request.nonce,
    });
    const claims = tokens.claims()!;
    expect(claims.acr).toBe('urn:one-id:loa:substantial');
    // RFC 8176: user verification, on a device-bound (not backup-eligible) key.
    expect(claims.amr).toEqual(['hwk', 'user']);
    expect(claims.sub).not.toBe(account.id);
    const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
    expect(userinfo).toMatchObject({ name: '김민지', email: 'minji@example.com' });
    expect(problems).toEqual([]);
  });

  it("signs in with a non-discoverable credential found by the citizen's email (English pages)", async () => {
    const { page, problems } = await phonePage();
    const authenticator = await addVirtualAuthenticator(page, { residentKey: false });
    await enrolInBrowser(
      page,
      {
        name: 'Lee Jiwoo',
        birthdate: '1988-11-02',
        email: 'jiwoo.lee@example.com',
        phone: '010-2345-6789',
      },
      { lang: 'en' },
    );
    // residentKey 'preferred' on a device that cannot keep one: the credential is server-side only.
    const [credential] = await authenticator.credentials();
    expect(credential).toMatchObject({ isResidentCredential: false, rpId: 'localhost' });

    const { client, config } = await agency(page, 4302);
    const request = await authorizationRequest(config, client.redirectUri);
    await page.goto(request.url.href);
    await page.waitForURL(/\/interaction\//);
    // The language chosen on the enrolment page is remembered (cookie) on the login page.
    expect(await page.locator('html').getAttribute('lang')).toBe('en');
    await screenshot(page, 'login-en');
    await page.fill('#identifier', '  JIWOO.LEE@example.com ');
    const options = page.waitForResponse(
      (res) =>
        res.url().endsWith('/passkey/options') &&
        (res.request().postData() ?? '').includes('identifier'),
    );
    await page.locator('#identifier-form button[type=submit]').click();
    const { allowCredentials } = (await (await options).json()) as {
      allowCredentials: { id: string }[];
    };
    expect(allowCredentials.map((c) => c.id)).toEqual([
      Buffer.from(credential!.credentialId, 'base64').toString('base64url'),
    ]);
    const callback = await approveConsent(page, client.redirectUri);

    const tokens = await oidc.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
      expectedNonce: request.nonce,
    });
    expect(tokens.claims()).toMatchObject({
      acr: 'urn:one-id:loa:substantial',
      amr: expect.arrayContaining(['user']),
    });
    const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub);
    expect(userinfo).toMatchObject({ name: 'Lee Jiwoo', email: 'jiwoo.lee@example.com' });
    expect(problems).toEqual([]);
  });

  it('shows a readable error when the ceremony fails, and lets the citizen retry', async () => {
    const { page, problems } = await phonePage();
    const authenticator = await addVirtualAuthenticator(page, { residentKey: true });
    await enrolInBrowser(page, {
      name: '박서준',
      birthdate: '1979-02-28',
      email: 'seojun@example.com',
    });
    const { client, config } = await agency(page, 4303);
    const request = await authorizationRequest(config, client.redirectUri);
    await page.goto(request.url.href);
    await page.waitForURL(/\/interaction\//);
    const loginUrl = page.url();
    const expectError = async (text: string) => {
      await page.locator('#error', { hasText: text }).waitFor({ state: 'visible' });
      expect(await page.locator('#error').getAttribute('role')).toBe('alert');
      // The page is usable again: buttons enabled, the "working" status gone, same URL.
      expect(await page.locator('#passkey-button').isEnabled()).toBe(true);
      expect((await page.locator('#status').textContent())?.trim()).toBe('');
      expect(page.url()).toBe(loginUrl);
    };

    // The device refuses user verification: the browser rejects (NotAllowedError, as for a
    // cancelled prompt or no passkey here), and the page says so next to the button.
    await authenticator.setUserVerified(false);
    await page.click('#passkey-button');
    await page
      .locator('#passkey-error', { hasText: MESSAGES.ko['login.nopasskey'] })
      .waitFor({ state: 'visible' });
    expect(await page.locator('#passkey-button').isEnabled()).toBe(true);
    await authenticator.setUserVerified(true);

    // The device signs without the UV flag: the server refuses, and its message is shown.
    await authenticator.setBadUserVerification(true);
    await page.click('#passkey-button');
    await expectError(MESSAGES.ko['err.ERR_PASSKEY_VERIFICATION_FAILED']);
    await authenticator.setBadUserVerification(false);

    // Restored: the same page signs in, and the error is cleared on the way.
    await page.click('#passkey-button');
    const callback = await approveConsent(page, client.redirectUri);
    const tokens = await oidc.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
      expectedNonce: request.nonce,
    });
    expect(tokens.claims()!.acr).toBe('urn:one-id:loa:substantial');
    expect(problems).toEqual([]);
  });

  it('says what to do next to the control, keeps focus during an attempt, and offers a way back for a lost device', async () => {
    const { page, problems } = await phonePage();
    const authenticator = await addVirtualAuthenticator(page, { residentKey: true });
    await enrolInBrowser(page, {
      name: '한지민',
      birthdate: '1990-03-03',
      email: 'jimin@example.com',
    });
    const { client, config } = await agency(page, 4305);
    const request = await authorizationRequest(config, client.redirectUri);
    await page.goto(request.url.href);
    await page.waitForURL(/\/interaction\//);
    const t = MESSAGES.ko;
    const optionsCalls: string[] = [];
    page.on('request', (r) => {
      if (r.url().endsWith('/passkey/options')) optionsCalls.push(r.postData() ?? '');
    });

    // An empty field: said under the field, the field marked and focused; no ceremony starts.
    await page.locator('#identifier-form button[type=submit]').click();
    await page
      .locator('#identifier-error', { hasText: t['login.identifier.empty'] })
      .waitFor({ state: 'visible' });
    expect(await page.getAttribute('#identifier', 'aria-invalid')).toBe('true');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('identifier');
    expect(optionsCalls).toEqual([]);

    // An email with no passkey on this device (unknown or not: the server does not say which,
    // so the message covers both and says what to check), under the field.
    await page.fill('#identifier', 'nobody@example.com');
    await page.locator('#identifier-form button[type=submit]').click();
    await page
      .locator('#identifier-error', { hasText: t['login.nopasskey.identifier'] })
      .waitFor({ state: 'visible' });
    expect(await page.textContent('#error')).toBe('');
    await screenshot(page, 'login-nopasskey-ko');

    // A passkey attempt from the keyboard: focus stays on the button while the browser asks
    // (aria-disabled, not disabled, which would drop focus to <body>).
    let release = () => {};
    await page.route('**/passkey/options', (route) => {
      release = () => void route.continue();
    });
    await page.focus('#passkey-button');
    await authenticator.setUserVerified(false);
    await page.keyboard.press('Enter');
    await page.locator('#status', { hasText: t['login.working'] }).waitFor();
    expect(await page.getAttribute('#passkey-button', 'aria-disabled')).toBe('true');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('passkey-button');
    // The field's old message went when the new attempt started.
    expect(await page.textContent('#identifier-error')).toBe('');
    release();
    await page.unroute('**/passkey/options');
    // No passkey used on this device: said next to the button, focus still there.
    await page
      .locator('#passkey-error', { hasText: t['login.nopasskey'] })
      .waitFor({ state: 'visible' });
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('passkey-button');
    expect(await page.getAttribute('#passkey-button', 'aria-disabled')).toBeNull();
    await authenticator.setUserVerified(true);

    // A lost device: the way back is on the page (recovery when certificates are on, the counter).
    await expect(page.locator('#lost-device').isVisible()).resolves.toBe(true);
    expect(await page.textContent('#lost-device')).toContain(t['login.lost.counter']);
    expect(problems).toEqual([]);
  });

  it('signs in through the autofill offer (conditional UI) without a click', async () => {
    const { page, problems } = await phonePage({ autofill: true });
    await addVirtualAuthenticator(page, { residentKey: true });
    await enrolInBrowser(page, { name: '최유나', birthdate: '2001-05-09' });
    const { client, config } = await agency(page, 4304);
    const request = await authorizationRequest(config, client.redirectUri);
    await page.goto(request.url.href);
    // Chromium's virtual authenticator picks the offered passkey as a person would from the list.
    const callback = await approveConsent(page, client.redirectUri);
    const tokens = await oidc.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
      expectedNonce: request.nonce,
    });
    expect(tokens.claims()).toMatchObject({
      acr: 'urn:one-id:loa:substantial',
      amr: expect.arrayContaining(['user']),
    });
    expect(problems).toEqual([]);
  });
});

describe('dead enrolment links in Chromium', () => {
  const expectReadableRefusal = async (
    page: Page,
    url: string,
    status: number,
    lang: 'ko' | 'en',
    code: string,
  ) => {
    const response = await page.goto(url);
    expect(response?.status()).toBe(status);
    const t = MESSAGES[lang];
    expect(await page.locator('h1').textContent()).toBe(t[`errtitle.${code}` as keyof typeof t]);
    expect(await page.locator('#message-body').textContent()).toBe(
      t[`err.${code}` as keyof typeof t],
    );
    expect(await page.locator('code').textContent()).toBe(code);
    const text = await page.locator('body').innerText();
    // Never a stack trace or internals, whatever went wrong.
    expect(text).not.toMatch(/\bat \S+ \(|\.ts:\d+|node_modules|AppError|Internal error/);
    expect(await page.locator('#register-button').count()).toBe(0);
  };

  it('shows readable pages for used (410), expired (410) and unknown (404) links', async () => {
    const { page, problems } = await phonePage();
    await addVirtualAuthenticator(page, { residentKey: true });
    const used = await enrolInBrowser(page, { name: '정하늘', birthdate: '1995-12-31' });
    await expectReadableRefusal(page, used.url, 410, 'ko', 'ERR_ENROLMENT_USED');
    await screenshot(page, 'enrol-used-ko');
    await expectReadableRefusal(page, `${used.url}?lang=en`, 410, 'en', 'ERR_ENROLMENT_USED');

    const expired = await app.services.accounts.enrolCitizen(
      { name: '윤도현', birthdate: '1970-01-01' },
      'test',
    );
    await app
      .knex('enrolment_links')
      .where({ account_id: expired.account.id })
      .update({ expires_at: new Date(Date.now() - 60_000) });
    await expectReadableRefusal(page, expired.url, 410, 'en', 'ERR_ENROLMENT_EXPIRED');
    await expectReadableRefusal(
      page,
      `${app.issuer}/enrol/${'x'.repeat(43)}?lang=ko`,
      404,
      'ko',
      'ERR_ENROLMENT_UNKNOWN',
    );
    expect(problems).toEqual([]);
  });
});
