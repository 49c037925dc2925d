// A citizen busy on My One-ID keeps their One-ID session: reading the session does not renew it,
// so once less than half the idle time is left the page goes through a silent authorization
// (prompt=none) that does. Idle timeout 8 s here (below the settings' minimum, via overrides);
// each step is timed from the sign-in and keeps ~3 s of margin for a loaded machine.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../support/app.ts';
import { createBrowserSession } from '../support/browser-session.ts';
import { enrolCitizen } from '../support/flows.ts';
import { openAccountPage, startSsoApp } from './support.ts';

let app: TestApp;
let citizen: Awaited<ReturnType<typeof enrolCitizen>>;
const sleepUntil = (at: number) =>
  new Promise((resolve) => setTimeout(resolve, Math.max(0, at - Date.now())));

beforeAll(async () => {
  app = await startSsoApp({}, { overrides: { sessionIdleSeconds: 8, sessionAbsoluteSeconds: 60 } });
  citizen = await enrolCitizen(app);
});
afterAll(() => app?.stop());

describe('My One-ID and the idle timeout', () => {
  it('using My One-ID renews the session, silently; an unused one still times out', async () => {
    // The browser that will do nothing signs in first, so it times out first.
    const idle = createBrowserSession();
    await openAccountPage(app, idle, citizen.authenticator);
    const session = createBrowserSession();
    await openAccountPage(app, session, citizen.authenticator);
    const signedIn = Date.now();

    await sleepUntil(signedIn + 5000); // ~3 s left of 8: renewed through /auth?prompt=none
    const renewal = await session.follow(`${app.issuer}/account`, app.issuer);
    expect(renewal.res.status).toBe(200);
    expect(new URL(renewal.url).pathname).toBe('/account');
    expect(await renewal.res.text()).not.toContain('id="passkey-login"');

    await sleepUntil(signedIn + 10_000); // past the 8 s the sign-in alone gave
    const later = await session.follow(`${app.issuer}/account`, app.issuer);
    expect(new URL(later.url).pathname).toBe('/account');
    expect(await later.res.text()).not.toContain('id="passkey-login"');

    // The browser that did nothing since signing in is asked to sign in again.
    const unused = await idle.follow(`${app.issuer}/account`, app.issuer);
    expect(await unused.res.text()).toContain('id="passkey-login"');
  });
});
