// Account recovery in real Chromium: a citizen whose passkey is lost signs in with a
// certificate (signed challenge pasted into the login page, or handed over by a browser
// extension through postMessage), registers a new passkey on a CDP virtual authenticator,
// and removes the lost one.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import {
  addVirtualAuthenticator,
  citizenContext,
  launchChromium,
  pageProblems,
} from '../support/chromium.ts';
import { createBrowserSession, csrfFrom } from '../support/browser-session.ts';
import { enrolCitizen } from '../support/flows.ts';
import {
  auditRows,
  certificateEnv,
  createTestPki,
  linkCertificate,
  signChallenge,
  type TestPki,
} from '../auth/certificate-login/support.ts';

const WAIT = 10_000;

let pki: TestPki;
let app: TestApp;
let browser: Browser;

beforeAll(async () => {
  pki = await createTestPki();
  [app, browser] = await Promise.all([startTestApp(certificateEnv(pki)), launchChromium()]);
});
afterAll(async () => {
  await browser?.close();
  await app?.stop();
  await pki?.close();
});

/** A fresh tab collecting script errors, CSP violations and the page's postMessage traffic. */
const newPage = async () => {
  const context = await citizenContext(browser, {}, { waitMs: WAIT });
  await context.addInitScript(() => {
    // A record of the hook's messages.
    const seen: unknown[] = [];
    Object.defineProperty(window, '__oneIdMessages', { value: seen });
    window.addEventListener('message', (event) => seen.push(event.data));
  });
  const page = await context.newPage();
  const problems = pageProblems(page);
  onTestFinished(() => context.close());
  return { page, problems };
};

/**
 * With the PostgreSQL backend every test app shares one database, and each app re-registers the
 * first-party client for its own issuer on start; a file running in parallel may just have
 * done so. Re-claim it for this app before using /account.
 */
const claimAccountClient = () =>
  app.services.clients.ensureFirstPartyClient('one-id-account', {
    client_name: 'My One-ID',
    redirect_uris: [`${app.issuer}/account/callback`],
    post_logout_redirect_uris: [`${app.issuer}/account/signed-out`],
  });

type Message = { type: string; nonce?: string; audience?: string };
const messages = (page: Page) =>
  page.evaluate(() => (window as unknown as { __oneIdMessages: Message[] }).__oneIdMessages);

/** A citizen enrolled at the counter (a software passkey, about to be "lost") with a linked certificate. */
const citizenWithLostPasskey = async () => {
  const citizen = await enrolCitizen(app, { name: '오복구', birthdate: '1977-07-07' });
  const leaf = await pki.citizen({ commonName: '오복구', birthdate: '1977-07-07' });
  await linkCertificate(app, citizen.account.id, leaf, [pki.intermediate]);
  const [lost] = await app.services.passkeys.listForAccount(citizen.account.id);
  return { account: citizen.account, leaf, lostId: lost!.id };
};

describe('recovery after a lost passkey, in Chromium', () => {
  it('signs in with a pasted certificate signature, registers a new passkey and removes the lost one', async () => {
    const { page, problems } = await newPage();
    const authenticator = await addVirtualAuthenticator(page, { residentKey: true });
    const { account, leaf, lostId } = await citizenWithLostPasskey();

    await claimAccountClient();
    await page.goto(`${app.issuer}/account/recover`);
    await page.waitForURL(/\/interaction\//);
    // The page asked for high assurance: the certificate section comes first and leads.
    const html = await page.content();
    expect(html.indexOf('id="certificate-login"')).toBeLessThan(html.indexOf('id="passkey-login"'));
    expect(await page.locator('#certificate-challenge-button').getAttribute('class')).toBe(
      'primary',
    );

    await page.click('#certificate-challenge-button');
    await expect.poll(() => page.inputValue('#certificate-nonce')).toMatch(/^[\w-]{43}$/);
    const nonce = await page.inputValue('#certificate-nonce');
    // The extension hook announced the same challenge.
    expect(await messages(page)).toContainEqual(
      expect.objectContaining({
        type: 'one-id:certificate-challenge',
        nonce,
        audience: app.issuer,
      }),
    );
    await page.fill(
      '#certificate-jws',
      await signChallenge({ nonce, audience: app.issuer, leaf, chain: [pki.intermediate] }),
    );
    await page.click('#certificate-submit');
    await page.waitForURL(`${app.issuer}/account/recover`);
    expect(await page.locator('.passkey-item').count()).toBe(1);

    // A new passkey on this device.
    await page.click('#register-button');
    await page.waitForURL(`${app.issuer}/account/recover?done=registered`);
    expect(await page.locator('#recovery-done').textContent()).toContain(
      '새 패스키가 등록되었습니다',
    );
    const [created] = await authenticator.credentials();
    const newId = Buffer.from(created!.credentialId, 'base64').toString('base64url');
    expect(await page.locator('.passkey-item').count()).toBe(2);

    // Remove the lost one.
    // Removal asks first (a disclosure naming the passkey), then the confirming button removes it.
    const lost = page.locator(`.passkey-item[data-credential-id="${lostId}"]`);
    await lost.locator('summary.remove-passkey').click();
    await lost.locator('button.confirm-remove').click();
    await page.waitForURL(`${app.issuer}/account/recover?done=removed`);
    expect(await page.locator('.passkey-item').count()).toBe(1);
    expect((await app.services.passkeys.listForAccount(account.id)).map((c) => c.id)).toEqual([
      newId,
    ]);
    const subject = `account:${account.id}`;
    expect(
      (await auditRows(app, 'auth.passkey.removed')).find((r) => r.subject === subject)?.details,
    ).toMatchObject({ credentialId: lostId });
    expect(
      (await auditRows(app, 'auth.passkey.registered')).find((r) => r.subject === subject)?.details,
    ).toMatchObject({ credentialId: newId });
    expect(problems).toEqual([]);
  });

  it('signs in through the extension hook (postMessage) without pasting', async () => {
    const { page, problems } = await newPage();
    const { leaf } = await citizenWithLostPasskey();
    await claimAccountClient();
    await page.goto(`${app.issuer}/account/recover?lang=en`);
    await page.waitForURL(/\/interaction\//);
    await expect
      .poll(async () => (await messages(page)).map((m) => m.type))
      .toContain('one-id:certificate-ready');
    // The "extension" asks for a challenge, signs it, and hands the JWS back.
    await page.evaluate(() =>
      window.postMessage({ type: 'one-id:certificate-request' }, window.location.origin),
    );
    await expect
      .poll(
        async () =>
          (await messages(page)).find((m) => m.type === 'one-id:certificate-challenge')?.nonce,
      )
      .toBeTruthy();
    const { nonce } = (await messages(page)).find(
      (m) => m.type === 'one-id:certificate-challenge',
    )!;
    const jws = await signChallenge({
      nonce: nonce!,
      audience: app.issuer,
      leaf,
      chain: [pki.intermediate],
    });
    await page.evaluate(
      (signed) =>
        window.postMessage(
          { type: 'one-id:certificate-signed', jws: signed },
          window.location.origin,
        ),
      jws,
    );
    await page.waitForURL(`${app.issuer}/account/recover?lang=en`);
    expect(await page.locator('h1').textContent()).toBe('Recover your passkeys');
    expect(problems).toEqual([]);
  });
});

describe('recovery rules', () => {
  it('needs a recent certificate sign-in: no session, or a passkey session, is sent to sign in at high', async () => {
    await claimAccountClient();
    const session = createBrowserSession();
    const res = await session.request(`${app.issuer}/account/recover`);
    expect(res.status).toBe(302);
    const auth = new URL(res.headers.get('location')!);
    expect(auth.searchParams.get('acr_values')).toBe('urn:one-id:loa:high');
    expect(auth.searchParams.get('max_age')).toBe('0');
    // The JSON routes answer 401 instead of redirecting (even with a valid CSRF token: one for
    // this browser without a session, as any page outside a sign-in gives it).
    const csrf = csrfFrom(await (await session.request(`${app.issuer}/account/missing`)).text());
    expect(csrf).not.toBe('');
    const options = await session.request(`${app.issuer}/account/recover/passkey/options`, {
      method: 'POST',
      json: {},
      headers: { 'x-csrf-token': csrf },
    });
    expect(options.status).toBe(401);
    expect((await options.json()).code).toBe('ERR_RECOVERY_SIGN_IN_REQUIRED');
    // A passkey session is not enough either.
    const citizen = await enrolCitizen(app, { name: '패스키만' });
    const passkeySession = createBrowserSession();
    const first = await passkeySession.follow(`${app.issuer}/account`, app.issuer);
    const path = new URL(first.url).pathname;
    const token = csrfFrom(await first.res.text());
    const request = await (
      await passkeySession.request(`${app.issuer}${path}/passkey/options`, {
        method: 'POST',
        json: {},
        headers: { 'x-csrf-token': token },
      })
    ).json();
    const verify = await passkeySession.request(`${app.issuer}${path}/passkey/verify`, {
      method: 'POST',
      json: citizen.authenticator.authenticate(request),
      headers: { 'x-csrf-token': token },
    });
    const landed = await passkeySession.follow(
      new URL((await verify.json()).location, app.issuer).toString(),
      app.issuer,
    );
    expect(new URL(landed.url).pathname).toBe('/account');
    const again = await passkeySession.request(`${app.issuer}/account/recover`);
    expect(new URL(again.headers.get('location')!).searchParams.get('acr_values')).toBe(
      'urn:one-id:loa:high',
    );
  });

  it('never removes the last way in: a passkey-only account keeps its passkey', async () => {
    const citizen = await enrolCitizen(app, { name: '유일한' });
    const [only] = await app.services.passkeys.listForAccount(citizen.account.id);
    await expect(
      app.services.certificates!.recovery.removePasskey(citizen.account.id, only!.id),
    ).rejects.toMatchObject({ code: 'ERR_LAST_SIGN_IN_METHOD', status: 409 });
    await expect(
      app.services.certificates!.recovery.removePasskey(citizen.account.id, 'someone-elses'),
    ).rejects.toMatchObject({ code: 'ERR_PASSKEY_NOT_FOUND' });
    expect(await app.services.passkeys.listForAccount(citizen.account.id)).toHaveLength(1);
  });
});
