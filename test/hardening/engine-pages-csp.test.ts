// The pages the engine renders (its error page, the sign-out question and the signed-out pages,
// through our views; its own form_post page) under the CSP of the response they come with:
// every script carries that response's nonce or, inline, has its hash in script-src; no inline
// style (style-src has no nonce). In Chromium, the error page shows without a CSP refusal and
// the form_post page's script submits the form to the agency's system.
import { hash } from 'node:crypto';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MESSAGES } from '../../src/http/render/messages.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { citizenContext, launchChromium, pageProblems } from '../support/chromium.ts';
import { createBrowserSession } from '../support/browser-session.ts';
import {
  authorizationRequest,
  discover,
  enrolCitizen,
  registerClient,
  signIn,
} from '../support/flows.ts';

let app: TestApp;
let browser: Browser;
let client: Awaited<ReturnType<typeof registerClient>>;
/** A browser signed in to One-ID and to `client`: the sign-out question needs a session. */
const signedIn = createBrowserSession();

beforeAll(async () => {
  [app, browser] = await Promise.all([startTestApp(), launchChromium()]);
  client = await registerClient(app, { client_name: '복지로' });
  const { authenticator } = await enrolCitizen(app);
  const request = await authorizationRequest(await discover(app, client), client.redirectUri);
  await signIn(app, signedIn, authenticator, request.url);
});
afterAll(async () => {
  await browser?.close();
  await app?.stop();
});

const authUrl = (params: Record<string, string>) => {
  const url = new URL('/auth', app.issuer);
  url.search = new URLSearchParams({
    response_type: 'code',
    scope: 'openid',
    state: 'st',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCGaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
    ...params,
  }).toString();
  return url.toString();
};

/** The engine's pages: all but the sign-out question are reached without a session. */
const enginePages = () => ({
  'error: unknown client': authUrl({
    client_id: 'no-such-client',
    redirect_uri: client.redirectUri,
  }),
  'error: unregistered redirect_uri': authUrl({
    client_id: client.clientId,
    redirect_uri: 'https://attacker.example/cb',
  }),
  'sign-out question': `${app.issuer}/session/end?client_id=${client.clientId}`,
  'signed out': `${app.issuer}/session/end/success`,
  'signed out of one system': `${app.issuer}/session/end/success?client_id=${client.clientId}`,
  'form_post (login_required)': authUrl({
    client_id: client.clientId,
    redirect_uri: client.redirectUri,
    response_mode: 'form_post',
    prompt: 'none',
  }),
});

const nonceIn = (csp: string) => /script-src[^;]*'nonce-([A-Za-z0-9+/=]+)'/.exec(csp)?.[1];

describe("the engine's pages", () => {
  it('carry only scripts their own response’s CSP allows: its nonce, or an inline script’s hash', async () => {
    for (const [name, url] of Object.entries(enginePages())) {
      const res = await (name === 'sign-out question' ? signedIn.request(url) : fetch(url));
      const html = await res.text();
      expect([200, 400], `${name}: status`).toContain(res.status);
      expect(res.headers.get('content-type'), name).toMatch(/^text\/html/);
      if (name === 'sign-out question') expect(html, name).toContain('id="op.logoutForm"');
      const csp = res.headers.get('content-security-policy') ?? '';
      const nonce = nonceIn(csp);
      expect(nonce, `${name}: CSP nonce`).toBeTruthy();
      expect(csp, name).not.toMatch(/unsafe-inline|unsafe-eval/);
      expect(html, `${name}: inline style`).not.toMatch(/<style\b|\sstyle\s*=/i);
      for (const [, attributes, body] of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)) {
        const tagNonce = /\snonce="([^"]*)"/.exec(attributes!)?.[1];
        if (tagNonce !== undefined) expect(tagNonce, `${name}: <script${attributes}>`).toBe(nonce);
        else
          expect(csp, `${name}: inline script`).toContain(
            `'sha256-${hash('sha256', body!, 'base64')}'`,
          );
      }
    }
  });

  it('show in Chromium without a CSP refusal, and the form_post page submits itself', async () => {
    const context = await citizenContext(browser, { viewport: { width: 390, height: 844 } });
    try {
      const page = await context.newPage();
      const problems = pageProblems(page);
      await page.addInitScript(() => {
        document.addEventListener('securitypolicyviolation', (e) =>
          console.error(`Refused to load: ${e.violatedDirective} ${e.blockedURI}`),
        );
      });
      const pages = enginePages();
      await page.goto(pages['error: unknown client']);
      expect(await page.locator('html').getAttribute('lang')).toBe('ko');
      expect(await page.locator('#next-title').textContent()).toBe(MESSAGES.ko['next.title']);

      // The form_post page's inline script (allowed by its hash) posts the error to the agency.
      let posted = '';
      await page.route(`${new URL(client.redirectUri).origin}/**`, (route) => {
        posted = route.request().postData() ?? '';
        return route.fulfill({ status: 200, contentType: 'text/html', body: '<title>RP</title>' });
      });
      await page.goto(pages['form_post (login_required)']);
      await page.waitForURL(client.redirectUri);
      expect(new URLSearchParams(posted).get('error')).toBe('login_required');
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
