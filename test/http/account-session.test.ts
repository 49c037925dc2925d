// My One-ID signs in through One-ID itself: no session sends the browser to sign in, the
// first-party client needs no consent, and afterwards the page shows the citizen's data.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { createBrowserSession, csrfFrom } from '../support/browser-session.ts';
import { enrolCitizen, passkeyVerify } from '../support/flows.ts';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app?.stop());

describe('My One-ID sign-in', () => {
  it('redirects to sign in, then shows the citizen without a consent page', async () => {
    const citizen = await enrolCitizen(app, { name: '박민수' });
    const session = createBrowserSession();
    const first = await session.request(`${app.issuer}/account`);
    expect(first.status).toBe(302);
    const { res, url } = await session.follow(`${app.issuer}/account`, app.issuer);
    expect(new URL(url).pathname).toMatch(/^\/interaction\//);
    const csrf = csrfFrom(await res.text());
    const path = new URL(url).pathname;
    const verify = await passkeyVerify(
      session,
      `${app.issuer}${path}`,
      csrf,
      citizen.authenticator,
    );
    const { location } = await verify.json();
    const landed = await session.follow(new URL(location, app.issuer).toString(), app.issuer);
    expect(new URL(landed.url).pathname).toBe('/account');
    expect(landed.res.status).toBe(200);
    const html = await landed.res.text();
    expect(html).toContain('박민수');
    // The citizen's passkey is listed, named after its authenticator (passkey-label.ts).
    expect(html).toMatch(/class="passkey-name">[^<]+</);
  });

  it('refuses a callback whose state does not match', async () => {
    const res = await fetch(`${app.issuer}/account/callback?code=x&state=forged`);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('ERR_INTERACTION_EXPIRED');
  });

  it('shows a sign-in the provider ended with an error as not completed', async () => {
    const session = createBrowserSession();
    const first = await session.request(`${app.issuer}/account`);
    const state = new URL(first.headers.get('location')!, app.issuer).searchParams.get('state');
    const res = await session.request(
      `${app.issuer}/account/callback?error=server_error&state=${state}`,
    );
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain('ERR_SIGN_IN_NOT_COMPLETED');
    // Its Korean text (the page's default language) and the "start again" help.
    expect(html).toContain('로그인을 마치지 못했습니다');
    expect(html).toContain('class="help"');
  });

  it('does not let an agency register a client in the reserved namespace', async () => {
    await expect(
      app.services.clients.addClient(
        {
          client_id: 'one-id-account',
          client_name: 'x',
          agency: 'x',
          redirect_uris: ['https://evil.example/cb'],
        },
        'test',
      ),
    ).rejects.toThrow(/reserved/);
  });
});
