// My One-ID's sign-in methods page: after a recent sign-in a citizen adds a passkey, removes a
// lost one, and can never remove the last way in.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { createBrowserSession, csrfFrom, type BrowserSession } from '../support/browser-session.ts';
import { enrolCitizen, passkeyVerify } from '../support/flows.ts';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app?.stop());

/** Signs in to My One-ID in this browser and returns the page at `path`. */
const openSignedIn = async (
  session: BrowserSession,
  citizen: Awaited<ReturnType<typeof enrolCitizen>>,
  path: string,
) => {
  const { res, url } = await session.follow(`${app.issuer}${path}`, app.issuer);
  const interaction = new URL(url).pathname;
  const csrf = csrfFrom(await res.text());
  const verify = await passkeyVerify(
    session,
    `${app.issuer}${interaction}`,
    csrf,
    citizen.authenticator,
  );
  const { location } = await verify.json();
  return session.follow(new URL(location, app.issuer).toString(), app.issuer);
};

describe('sign-in methods', () => {
  it('adds a passkey, removes the old one, and keeps the last one', async () => {
    const citizen = await enrolCitizen(app);
    const session = createBrowserSession();
    const page = await openSignedIn(session, citizen, '/account/security');
    expect(new URL(page.url).pathname).toBe('/account/security');
    const html = await page.res.text();
    const csrf = csrfFrom(html);
    const [oldId] = (await app.services.passkeys.listForAccount(citizen.account.id)).map(
      (c) => c.id,
    );

    // A second passkey (a new phone).
    const options = await (
      await session.request(`${app.issuer}/account/security/passkey/options`, {
        method: 'POST',
        json: {},
        headers: { 'x-csrf-token': csrf },
      })
    ).json();
    expect(options.excludeCredentials.map((c: { id: string }) => c.id)).toEqual([oldId]);
    const registered = await session.request(`${app.issuer}/account/security/passkey/verify`, {
      method: 'POST',
      json: citizen.authenticator.register(options),
      headers: { 'x-csrf-token': csrf },
    });
    expect(registered.status).toBe(200);
    expect(await app.services.passkeys.listForAccount(citizen.account.id)).toHaveLength(2);

    // The old one is lost: remove it.
    const removed = await session.request(`${app.issuer}/account/security/passkeys/remove`, {
      method: 'POST',
      form: { _csrf: csrf, credential: oldId! },
    });
    expect(removed.status).toBe(303);
    const left = await app.services.passkeys.listForAccount(citizen.account.id);
    expect(left.map((c) => c.id)).not.toContain(oldId);

    // The last way in cannot go.
    const last = await session.request(`${app.issuer}/account/security/passkeys/remove`, {
      method: 'POST',
      form: { _csrf: csrf, credential: left[0]!.id },
      headers: { accept: 'text/html' },
    });
    expect(last.status).toBe(409);
    expect(await app.services.passkeys.listForAccount(citizen.account.id)).toHaveLength(1);
    const audit = await app
      .knex('audit_events')
      .where({ subject: `account:${citizen.account.id}`, action: 'auth.passkey.removed' });
    expect(audit).toHaveLength(1);
  });

  it('refuses changes without a recent sign-in or without the CSRF token', async () => {
    const res = await fetch(`${app.issuer}/account/security/passkeys/remove`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'credential=x',
    });
    expect(res.status).toBe(403);
    const session = createBrowserSession();
    const page = await session.request(`${app.issuer}/account/security`);
    expect(page.status).toBe(302);
    expect(page.headers.get('location')).toMatch(/\/auth\?/);
  });
});
