// oidc-client-ts (authts), the browser/SPA library, in a real Chromium as a single-page app: a
// public client (token_endpoint_auth_method none) on http://localhost:<port>/, UserManager with
// signinRedirect / signinCallback (code + PKCE S256, its defaults), loadUserInfo, signinSilent
// with the refresh token, signoutRedirect. The token and userinfo calls are cross-origin fetches
// from the page, so they also prove One-ID's CORS policy for single-page apps. The citizen
// enrols a passkey in that Chromium (CDP virtual authenticator) and signs in on One-ID's pages.
import type { BrowserContext, Page, Response } from 'playwright-core';
import { expect } from 'vitest';
import { addVirtualAuthenticator, citizenContext, launchChromium } from '../../support/chromium.ts';
import {
  expectConsentedUserinfo,
  expectOneIdIdToken,
  type Citizen,
  type Driver,
} from '../harness.ts';
import { startSpaHost } from '../spa-host.ts';

const WAIT = 10_000;

type SpaUser = {
  id_token: string;
  access_token: string;
  refresh_token?: string;
  scope: string;
  profile: Record<string, unknown>;
};
type Outcome =
  | { ok: true; user?: SpaUser; userState?: unknown }
  | { ok: false; error?: string; error_description?: string; message: string };
type Metadata = {
  issuer: string;
  token_endpoint: string;
  userinfo_endpoint: string;
  end_session_endpoint: string;
  code_challenge_methods_supported?: string[];
};
/** What the page exposes (spa-host.ts), as seen from page.evaluate. */
type Spa = {
  metadata: () => Promise<Metadata>;
  signIn: (args: Record<string, string>) => void;
  signOut: (args: { state: unknown }) => void;
  user: () => Promise<SpaUser | null>;
  refresh: () => Promise<Outcome>;
  refreshWithSpent: (spent: string) => Promise<Outcome>;
  verifyIdToken: (idToken: string) => Promise<Record<string, unknown>>;
};
type SpaWindow = { spa: Spa; spaDone: Promise<Outcome> };

const done = (page: Page): Promise<Outcome> =>
  page.evaluate(() => (window as unknown as SpaWindow).spaDone);
const signedIn = (outcome: Outcome): SpaUser => {
  if (!outcome.ok)
    throw new Error(
      `oidc-client-ts: ${outcome.error ?? ''} ${outcome.error_description ?? outcome.message}`.trim(),
    );
  return outcome.user!;
};

export const oidcClientTs: Driver = {
  packageName: 'oidc-client-ts',
  displayName: 'oidc-client-ts (browser SPA, Chromium)',
  clientAuth: 'none',
  verdict: '⚠️ compatible; the app verifies the ID token itself (the library only decodes it)',
  notes: [
    'A single-page app as its README shows: `new UserManager({ authority, client_id, redirect_uri, post_logout_redirect_uri, scope, loadUserInfo: true })`, `signinRedirect()` / `signinCallback()`, `signinSilent()`, `signoutRedirect()` / `signoutCallback()`, loaded from its browser bundle (`dist/browser`) in Chromium. Register the SPA as a public client (`"token_endpoint_auth_method": "none"`); authorization code + PKCE S256 is the library\'s default.',
    "The citizen enrols a passkey and signs in on One-ID's own pages in the same Chromium (CDP virtual authenticator), as the SPA sends the browser there and back.",
    "The discovery, JWKS, token and userinfo requests are cross-origin `fetch`es from the page. One-ID answers the token and userinfo endpoints only for the origin of one of the client's registered `redirect_uris` (the token endpoint only for public clients); discovery and JWKS are open to any origin. See [integrating.md](integrating.md#10-single-page-apps).",
    'The library sends a `nonce` only when the app passes one, `signinRedirect({ nonce })`, and a logout `state` only when the app passes one, `signoutRedirect({ state })` (both done here); it then checks them.',
  ],
  async start({ app, citizen, register }) {
    const host = await startSpaHost();
    const browser = await launchChromium().catch(async (error: unknown) => {
      await host.close();
      throw error;
    });
    let context: BrowserContext | undefined;
    const close = async () => {
      await context?.close();
      await browser.close();
      await host.close();
    };
    try {
      const { origin } = host;
      const registered = await register({
        redirect_uris: [`${origin}/callback`],
        post_logout_redirect_uris: [`${origin}/`],
        token_endpoint_auth_method: 'none',
      });
      host.configure({ authority: app.issuer, clientId: registered.clientId });
      // The citizen presses the passkey button (no autofill offer), as in test/e2e.
      context = await citizenContext(browser, {}, { waitMs: WAIT });
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
      // Any refused or failed request (a CORS refusal shows as a failed fetch) is a problem; the
      // console's "Failed to load resource" lines say the same without the address, so they are skipped.
      page.on('console', (message) => {
        if (message.type() === 'error' && !message.text().startsWith('Failed to load resource'))
          problems.push(`console: ${message.text()}`);
      });
      page.on('requestfailed', (request) =>
        problems.push(
          `request failed: ${request.method()} ${request.url()} ${request.failure()?.errorText ?? ''}`,
        ),
      );
      page.on('response', (response) => {
        if (response.status() >= 400)
          problems.push(`${response.status()}: ${response.request().method()} ${response.url()}`);
      });

      // The citizen: an enrolment link from the counter, a passkey created in this browser.
      await addVirtualAuthenticator(page, { residentKey: true });
      const person = { name: '정다은', birthdate: '1994-03-21', email: 'spa-citizen@example.com' };
      const { account, url } = await app.services.accounts.enrolCitizen(person, 'test');
      await page.goto(url);
      await page.click('#register-button');
      await page.waitForURL(`${app.issuer}/enrol/done`);
      const browserCitizen: Citizen = {
        ...citizen,
        accountId: account.id,
        name: person.name,
        email: person.email,
      };

      let metadata: Metadata;
      const nonce = crypto.randomUUID();
      let authorizationUrl: URL;
      let tokenResponse: Promise<Response>;
      let userinfoResponse: Promise<Response>;
      let user: SpaUser;
      let sub: string;
      return {
        close,
        async discovery() {
          await page.goto(`${origin}/`);
          metadata = await page.evaluate(() => (window as unknown as SpaWindow).spa.metadata());
          expect(metadata.issuer).toBe(app.issuer);
          expect(metadata.code_challenge_methods_supported).toContain('S256');
        },
        async authorize() {
          const request = page.waitForRequest((r) => r.url().startsWith(`${app.issuer}/auth?`));
          tokenResponse = page.waitForResponse(
            (r) => r.url() === metadata.token_endpoint && r.request().method() === 'POST',
            { timeout: 2 * WAIT },
          );
          userinfoResponse = page.waitForResponse(
            (r) => r.url() === metadata.userinfo_endpoint && r.request().method() === 'GET',
            { timeout: 2 * WAIT },
          );
          // Awaited by later steps; if this step fails first, their rejection is not unhandled.
          for (const pending of [tokenResponse, userinfoResponse]) pending.catch(() => undefined);
          await page.evaluate(
            (n) => (window as unknown as SpaWindow).spa.signIn({ nonce: n }),
            nonce,
          );
          authorizationUrl = new URL((await request).url());
          expect(Object.fromEntries(authorizationUrl.searchParams)).toMatchObject({
            client_id: registered.clientId,
            response_type: 'code',
            code_challenge_method: 'S256',
            nonce,
          });
          expect(authorizationUrl.searchParams.get('state')).toBeTruthy();
          await page.waitForURL(/\/interaction\//);
          await page.locator('#passkey-button').click();
          await page.locator('button[name=decision][value=approve]').click();
          await page.waitForURL((u) => u.href.startsWith(`${origin}/callback?`));
          const callback = new URL(page.url());
          expect(callback.searchParams.get('code')).toBeTruthy();
          expect(callback.searchParams.get('state')).toBe(
            authorizationUrl.searchParams.get('state'),
          );
        },
        async token() {
          const response = await tokenResponse;
          const form = new URLSearchParams(response.request().postData() ?? '');
          expect(form.get('grant_type')).toBe('authorization_code');
          expect(form.get('code_verifier')).toBeTruthy();
          expect(form.get('client_id')).toBe(registered.clientId);
          expect(form.has('client_secret')).toBe(false);
          expect(response.status()).toBe(200);
          expect(response.headers()['access-control-allow-origin']).toBe(origin);
          user = signedIn(await done(page));
          expect(user.access_token).toBeTruthy();
          expect(user.refresh_token).toBeTruthy();
        },
        async idToken() {
          const claims = await page.evaluate(
            (token) => (window as unknown as SpaWindow).spa.verifyIdToken(token),
            user.id_token,
          );
          expectOneIdIdToken(expect, claims, {
            issuer: app.issuer,
            clientId: registered.clientId,
            accountId: account.id,
            nonce,
          });
          sub = String(claims.sub);
          expect(user.profile.sub).toBe(sub);
          return {
            workaround: true,
            note: "oidc-client-ts decodes the ID token and checks only `sub` and the `nonce` (on refresh, that `sub`, `auth_time` and `azp` did not change); it does not verify the signature, `iss`, `aud` or `exp`. The SPA verifies them itself after `signinCallback()`, with jose's browser build: `jwtVerify(id_token, createRemoteJWKSet(jwks_uri), { issuer, audience: client_id })`.",
          };
        },
        async userinfo() {
          const response = await userinfoResponse;
          expect(response.status()).toBe(200);
          expect(response.headers()['access-control-allow-origin']).toBe(origin);
          expectConsentedUserinfo(
            expect,
            (await response.json()) as Record<string, unknown>,
            browserCitizen,
            sub,
          );
          // loadUserInfo: the library checked the userinfo `sub` against the ID token's and merged the claims.
          expect(user.profile).toMatchObject({ sub, name: person.name, email: person.email });
        },
        async refresh() {
          const spent = user.refresh_token!;
          const refreshed = signedIn(
            await page.evaluate(() => (window as unknown as SpaWindow).spa.refresh()),
          );
          expect(refreshed.refresh_token).toBeTruthy();
          expect(refreshed.refresh_token).not.toBe(spent);
          expect(refreshed.profile.sub).toBe(sub);
          user = refreshed;
          expect(
            await page.evaluate(
              (token) => (window as unknown as SpaWindow).spa.refreshWithSpent(token),
              spent,
            ),
          ).toMatchObject({ ok: false, error: 'invalid_grant' });
          // That refusal (400 from the token endpoint) is the one failed request expected.
          const refusal = problems.findIndex((p) => p === `400: POST ${metadata.token_endpoint}`);
          expect(refusal).toBeGreaterThanOrEqual(0);
          problems.splice(refusal, 1);
          return {
            note: '`signinSilent()` uses the stored refresh token when there is one (no iframe) and stores the rotated one.',
          };
        },
        async logout() {
          const request = page.waitForRequest((r) =>
            r.url().startsWith(`${metadata.end_session_endpoint}?`),
          );
          await page.evaluate(() =>
            (window as unknown as SpaWindow).spa.signOut({ state: { returnTo: '/' } }),
          );
          const endSession = new URL((await request).url());
          expect(endSession.searchParams.get('id_token_hint')).toBe(user.id_token);
          expect(endSession.searchParams.get('post_logout_redirect_uri')).toBe(`${origin}/`);
          const state = endSession.searchParams.get('state');
          expect(state).toBeTruthy();
          await page.locator('button[name=logout][value=yes]').click();
          await page.waitForURL((u) => u.href.startsWith(`${origin}/?`));
          expect(new URL(page.url()).searchParams.get('state')).toBe(state);
          expect(await done(page)).toEqual({ ok: true, userState: { returnTo: '/' } });
          expect(await page.evaluate(() => (window as unknown as SpaWindow).spa.user())).toBeNull();
          // One-ID's session is gone: a prompt=none sign-in through the library comes back login_required.
          await page.evaluate(() =>
            (window as unknown as SpaWindow).spa.signIn({ prompt: 'none' }),
          );
          await page.waitForURL((u) => u.href.startsWith(`${origin}/callback?`));
          expect(await done(page)).toMatchObject({ ok: false, error: 'login_required' });
          expect(problems).toEqual([]);
        },
      };
    } catch (error) {
      await close();
      throw error;
    }
  },
};
