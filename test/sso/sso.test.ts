// Single sign-on across agency systems: one sign-in serves every client in the same browser
// (consent is still asked per client), and the requests that must not ride on it do not:
// prompt=login, max_age, acr_values above the session's level, and prompt=none's errors.
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../support/app.ts';
import { createBrowserSession, type BrowserSession } from '../support/browser-session.ts';
import { authorizationRequest, discover, enrolCitizen, registerClient } from '../support/flows.ts';
import { signInTo, startSsoApp } from './support.ts';

let app: TestApp;
let citizen: Awaited<ReturnType<typeof enrolCitizen>>;
let agencyA: Awaited<ReturnType<typeof registerClient>>;
let agencyB: Awaited<ReturnType<typeof registerClient>>;

beforeAll(async () => {
  app = await startSsoApp();
  citizen = await enrolCitizen(app, { name: '최지우' });
  agencyA = await registerClient(app, { client_name: 'Agency A' });
  agencyB = await registerClient(app, { client_name: 'Agency B' });
});
afterAll(() => app?.stop());

/** Passkey assertions made so far: a sign-in uses one, SSO none. */
const assertions = () => citizen.authenticator.credentials.reduce((n, c) => n + c.counter, 0);

/** Starts an authorization request in `session` and says where One-ID took the browser. */
const start = async (
  session: BrowserSession,
  client: typeof agencyA,
  params: Record<string, string> = {},
) => {
  const config = await discover(app, client);
  const request = await authorizationRequest(config, client.redirectUri, params);
  const { res, url } = await session.follow(request.url.toString(), app.issuer);
  const landed = new URL(url);
  const html = landed.origin === app.issuer ? await res.text() : '';
  return {
    config,
    request,
    landed,
    page: html.includes('id="passkey-login"')
      ? 'login'
      : html.includes('/consent"')
        ? 'consent'
        : landed.origin === app.issuer
          ? 'other'
          : 'callback',
    html,
  };
};

const redeem = async (s: Awaited<ReturnType<typeof start>>) =>
  (
    await oidc.authorizationCodeGrant(s.config, s.landed, {
      pkceCodeVerifier: s.request.verifier,
      expectedState: s.request.state,
      expectedNonce: s.request.nonce,
    })
  ).claims()!;

describe('single sign-on', () => {
  it('gives a second agency system a code without a new sign-in; a first-time client still asks consent', async () => {
    const session = createBrowserSession();
    const first = await signInTo(app, session, citizen.authenticator, agencyA);
    const used = assertions();

    // Agency B, first time: no passkey, but the consent page.
    const toB = await start(session, agencyB);
    expect(toB.page).toBe('consent');
    const atB = await signInTo(app, session, citizen.authenticator, agencyB);
    expect(assertions()).toBe(used);
    expect(atB.claims.auth_time).toBe(first.claims.auth_time);
    expect(atB.claims.acr).toBe('urn:one-id:loa:substantial');

    // Agency B again: straight back with a code.
    const again = await start(session, agencyB);
    expect(again.page).toBe('callback');
    expect((await redeem(again)).sub).toBe(atB.claims.sub);
    expect(assertions()).toBe(used);
  });

  it('prompt=login and max_age=0 ask for a fresh sign-in', async () => {
    const session = createBrowserSession();
    await signInTo(app, session, citizen.authenticator, agencyA);
    for (const params of [{ prompt: 'login' }, { max_age: '0' }] as Record<string, string>[]) {
      const used = assertions();
      expect((await start(session, agencyA, params)).page).toBe('login');
      const fresh = await signInTo(app, session, citizen.authenticator, agencyA, params);
      expect(assertions()).toBe(used + 1);
      expect(fresh.claims.auth_time).toBeGreaterThan(0);
    }
  });

  it('max_age asks for a fresh sign-in only once the sign-in is older', async () => {
    const session = createBrowserSession();
    const signedIn = await signInTo(app, session, citizen.authenticator, agencyA);
    const recent = await start(session, agencyA, { max_age: '3600' });
    expect(recent.page).toBe('callback');
    expect((await redeem(recent)).auth_time).toBe(signedIn.claims.auth_time);
    await new Promise((resolve) => setTimeout(resolve, 2100));
    expect((await start(session, agencyA, { max_age: '1' })).page).toBe('login');
  });

  it('acr_values above the session level asks for a new sign-in (step-up); at or below it rides the session', async () => {
    const session = createBrowserSession();
    await signInTo(app, session, citizen.authenticator, agencyA);
    const same = await start(session, agencyA, { acr_values: 'urn:one-id:loa:substantial' });
    expect(same.page).toBe('callback');
    const higher = await start(session, agencyA, { acr_values: 'urn:one-id:loa:high' });
    expect(higher.page).toBe('login');
    // The login page says why (step-up), and a passkey alone cannot meet it.
    expect(higher.html).toMatch(/더 높은 수준의 본인 확인|stronger proof of identity/);
  });

  it('prompt=none answers login_required without a session, consent_required without consent, a code with both', async () => {
    const fresh = createBrowserSession();
    const none = await start(fresh, agencyA, { prompt: 'none' });
    expect(none.page).toBe('callback');
    expect(none.landed.searchParams.get('error')).toBe('login_required');

    const session = createBrowserSession();
    await signInTo(app, session, citizen.authenticator, agencyA);
    const newcomer = await registerClient(app, { client_name: 'Agency C' });
    const noConsent = await start(session, newcomer, { prompt: 'none' });
    expect(noConsent.landed.searchParams.get('error')).toBe('consent_required');

    const ok = await start(session, agencyA, { prompt: 'none' });
    expect(ok.landed.searchParams.get('error')).toBeNull();
    expect((await redeem(ok)).sub).toBeTruthy();
  });
});
