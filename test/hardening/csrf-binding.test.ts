// CSRF tokens are bound to the session they were issued for (docs/security.md, "CSRF"): an
// attacker who plants their own CSRF cookie in the victim's browser (any sibling subdomain can
// set a cookie without the `__Host-` prefix) and sends the token from their own page gets 403 on
// My One-ID and in the admin console. With an https issuer the site-wide cookies are `__Host-`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPrincipal } from '../../src/admin/index.ts';
import { freePort, startTestApp, type TestApp } from '../support/app.ts';
import { createBrowserSession, csrfFrom, type BrowserSession } from '../support/browser-session.ts';
import {
  authorizationRequest,
  discover,
  enrolCitizen,
  registerClient,
  signIn,
} from '../support/flows.ts';
import { consoleAdmin, csrfOf } from '../admin/console-support.ts';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => app?.stop());

/** A citizen signed in to an agency system (one consent) and to My One-ID in `browser`. */
const signedInCitizen = async (client: Awaited<ReturnType<typeof registerClient>>) => {
  const citizen = await enrolCitizen(app);
  const browser = createBrowserSession();
  const config = await discover(app, client);
  await signIn(
    app,
    browser,
    citizen.authenticator,
    (await authorizationRequest(config, client.redirectUri)).url,
  );
  const page = await browser.follow(`${app.issuer}/account`, app.issuer);
  expect(page.url).toBe(`${app.issuer}/account`);
  return { citizen, browser, csrf: csrfFrom(await page.res.text()) };
};

/** The attacker's own CSRF cookie, planted in the victim's browser. */
const plant = (victim: BrowserSession, attacker: BrowserSession) =>
  victim.jar.set('oneid_csrf', attacker.jar.get('oneid_csrf')!);

describe('CSRF tokens are bound to the session', () => {
  it("refuses a planted cookie with the attacker's token on POST /account/consents/:id/withdraw", async () => {
    const client = await registerClient(app);
    const victim = await signedInCitizen(client);
    const attacker = await signedInCitizen(client);
    const consent = await app
      .knex('consents')
      .where({ account_id: victim.citizen.account.id, client_id: client.clientId })
      .first();
    expect(consent).toBeDefined();
    plant(victim.browser, attacker.browser);
    const forged = await victim.browser.request(
      `${app.issuer}/account/consents/${consent.id}/withdraw`,
      { method: 'POST', form: { _csrf: attacker.csrf } },
    );
    expect(forged.status).toBe(403);
    const after = await app.knex('consents').where({ id: consent.id }).first();
    expect(after.withdrawn_at).toBeNull();
    // The victim's own page, with the cookie it now has, still works.
    const page = await victim.browser.follow(`${app.issuer}/account`, app.issuer);
    const own = await victim.browser.request(
      `${app.issuer}/account/consents/${consent.id}/withdraw`,
      { method: 'POST', form: { _csrf: csrfFrom(await page.res.text()) } },
    );
    expect(own.status).toBe(302);
    expect((await app.knex('consents').where({ id: consent.id }).first()).withdrawn_at).not.toBe(
      null,
    );
  });

  it("refuses a planted cookie with the attacker's token on POST /admin/clients/:id/enable", async () => {
    const [victim, attacker] = [
      await consoleAdmin(app, 'platform'),
      await consoleAdmin(app, 'platform'),
    ];
    const client = await registerClient(app);
    await app.services.admin.registry.disable(cliPrincipal(), client.clientId);
    const url = `${app.issuer}/admin/clients/${client.clientId}/enable`;
    const token = await csrfOf(attacker.browser, `${app.issuer}/admin`);
    plant(victim.browser, attacker.browser);
    const forged = await victim.browser.request(url, { method: 'POST', form: { _csrf: token } });
    expect(forged.status).toBe(403);
    expect((await app.knex('clients').where({ client_id: client.clientId }).first()).status).toBe(
      'disabled',
    );
    // The attacker's token is good for the attacker's own console session only.
    const own = await attacker.browser.request(url, { method: 'POST', form: { _csrf: token } });
    expect(own.status).toBe(302);
  });
});

describe('cookie names with an https issuer', () => {
  let secure: TestApp;
  beforeAll(async () => {
    const port = await freePort();
    secure = await startTestApp(
      { ISSUER: `https://localhost:${port}`, TRUSTED_PROXIES: '127.0.0.1' },
      { port },
    );
  });
  afterAll(async () => secure?.stop());

  it('sets the site-wide cookies as __Host- (Secure, Path=/, no Domain)', async () => {
    const tls = { 'x-forwarded-proto': 'https' };
    const local = (url: string) => url.replace(secure.issuer, `http://localhost:${secure.port}`);
    const seen: string[] = [];
    for (const start of ['/account/login', '/admin']) {
      const session = createBrowserSession();
      let res = await session.request(local(`${secure.issuer}${start}`), { headers: tls });
      for (let hops = 0; hops < 5 && res.headers.get('location'); hops += 1) {
        seen.push(...res.headers.getSetCookie());
        res = await session.request(
          local(new URL(res.headers.get('location')!, secure.issuer).toString()),
          { headers: tls },
        );
      }
      seen.push(...res.headers.getSetCookie());
      expect(res.status).toBe(200);
    }
    const names = seen.map((c) => c.split('=')[0]!);
    for (const name of [
      '__Host-oneid_csrf',
      '__Host-oneid_account_state',
      '__Host-oneid_admin_login',
    ])
      expect(names).toContain(name);
    expect(names).not.toContain('oneid_csrf');
    for (const cookie of seen.filter((c) => c.startsWith('__Host-'))) {
      expect(cookie).toMatch(/;\s*secure/i);
      expect(cookie).toMatch(/;\s*path=\/(;|$)/i);
      expect(cookie).not.toMatch(/;\s*domain=/i);
    }
  });
});
