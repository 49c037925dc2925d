// /account/security in real Chromium: it says how the citizen signed in, names each passkey so
// two can be told apart (provider or "passkey", the day added), shows 24-hour Korean time, asks
// before removing one, explains a device that already holds a passkey, and links back.
import type { Browser } from 'playwright-core';
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

let app: TestApp;

let browser: Browser;

beforeAll(async () => {
  [app, browser] = await Promise.all([startTestApp(), launchChromium()]);
});
afterAll(async () => {
  await browser?.close();
  await app?.stop();
});

describe('the sign-in methods page', () => {
  it('names passkeys, explains a device that already has one, and confirms a removal', async () => {
    const context = await citizenContext(browser, { viewport: { width: 390, height: 844 } });
    try {
      const page = await context.newPage();
      const problems = pageProblems(page);
      const first = await addVirtualAuthenticator(page, { residentKey: true });
      const { url } = await app.services.accounts.enrolCitizen(
        { name: '배수지', birthdate: '1994-10-10', email: 'suzy@example.com' },
        'test',
      );
      await page.goto(url);
      await page.click('#register-button');
      await page.waitForURL(`${app.issuer}/enrol/done`);

      await page.goto(`${app.issuer}/account/security`);
      await page.click('#passkey-button');
      await page.waitForURL(`${app.issuer}/account/security`);
      expect(await page.locator('#signed-in-with').textContent()).toBe(
        MESSAGES.ko['security.intro.passkey'].replace('{name}', '배수지'),
      );
      expect(await page.locator('a[href="/account"]').count()).toBeGreaterThan(0);

      // The same device again: WebAuthn refuses (excludeCredentials) and the page says why.
      await page.click('#register-button');
      await expect
        .poll(() => page.locator('#error').textContent())
        .toBe(MESSAGES.ko['security.register.exists']);

      // A second device registers a second passkey; the two names differ.
      await first.cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: first.id });
      await addVirtualAuthenticator(page, { residentKey: true });
      await page.click('#register-button');
      await page.waitForURL(/done=registered/);
      const names = await page.locator('.passkey-name').allTextContents();
      expect(names).toHaveLength(2);
      expect(new Set(names).size).toBe(2);
      for (const name of names) {
        expect(name).toMatch(/^패스키 · \d{4}\. \d{1,2}\. \d{1,2}\.( \(2\))?$/);
      }
      const ids = await page
        .locator('.passkey-item')
        .evaluateAll((li) => li.map((e) => (e as HTMLElement).dataset.credentialId));
      const times = await page.locator('.passkey-item time').allTextContents();
      for (const time of times) expect(time).toMatch(/ \d{2}:\d{2}$/);

      // Removing asks first, naming the passkey; only the confirmation removes it.
      await page.locator('.remove-passkey').first().click();
      const confirm = page.locator('.confirm-remove').first();
      await confirm.waitFor({ state: 'visible' });
      expect(await page.locator('details.confirm[open] p').textContent()).toContain(names[0]);
      expect(
        await app.services.passkeys.listForAccount((await accountOf('suzy@example.com'))!),
      ).toHaveLength(2);
      await screenshot(page, 'security-remove-ko');
      await confirm.click();
      await page.waitForURL(/done=removed/);
      expect(await page.locator('#recovery-done').textContent()).toBe(
        MESSAGES.ko['recovery.done.removed'],
      );
      // The other one stays (and, alone, needs no "(2)" any more).
      expect(
        await page
          .locator('.passkey-item')
          .evaluateAll((li) => li.map((e) => (e as HTMLElement).dataset.credentialId)),
      ).toEqual([ids[1]]);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });
});

const accountOf = async (email: string) =>
  (await app.knex('accounts').where({ email }).first())?.id as string | undefined;
