// A citizen busy on My One-ID keeps their One-ID session: reading the session does not renew it,
// so once less than half the idle time is left the page goes through a silent authorization
// (prompt=none) that does. Idle timeout 6 s here (below the settings' minimum, via overrides).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../support/app.ts';
import { createBrowserSession } from '../support/browser-session.ts';
import { enrolCitizen } from '../support/flows.ts';
import { openAccountPage, startSsoApp } from './support.ts';

let app: TestApp;
let citizen: Awaited<ReturnType<typeof enrolCitizen>>;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  app = await startSsoApp({}, { overrides: { sessionIdleSeconds: 6, sessionAbsoluteSeconds: 60 } });
  citizen = await enrolCitizen(app);
});
afterAll(() => app?.stop());

describe('My One-ID and the idle timeout', () => {
  it('using My One-ID renews the session, silently; an unused one still times out', async () => {
    const session = createBrowserSession();
    await openAccountPage(app, session, citizen.authenticator);
    const idle = createBrowserSession();
    await openAccountPage(app, idle, citizen.authenticator);

    await sleep(3500); // 2.5 s left of 6: renewed through /auth?prompt=none
    const renewal = await session.follow(`${app.issuer}/account`, app.issuer);
    expect(renewal.res.status).toBe(200);
    expect(new URL(renewal.url).pathname).toBe('/account');
    expect(await renewal.res.text()).not.toContain('id="passkey-login"');

    await sleep(4000); // 7.5 s after sign-in, past the 6 s the sign-in alone gave
    const later = await session.follow(`${app.issuer}/account`, app.issuer);
    expect(new URL(later.url).pathname).toBe('/account');
    expect(await later.res.text()).not.toContain('id="passkey-login"');

    // The browser that did nothing since signing in is asked to sign in again.
    const unused = await idle.follow(`${app.issuer}/account`, app.issuer);
    expect(await unused.res.text()).toContain('id="passkey-login"');
  });
});
