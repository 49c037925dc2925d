// The federated sign-in in real Chromium: an agency's system (a real server on 127.0.0.1) sends
// the citizen to One-ID, the citizen picks an upstream identity provider (a bare oidc-provider
// that signs its test user in at once), links it with the passkey of a CDP virtual
// authenticator on One-ID's linking page, consents, and lands back at the agency; a second
// visit in a fresh browser goes straight through.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { addVirtualAuthenticator, citizenContext, launchChromium } from '../support/chromium.ts';
import { authorizationRequest, discover, registerClient } from '../support/flows.ts';
import { registerUpstream, retireUpstreams, startUpstream } from './support.ts';

const WAIT = 10_000;
let app: TestApp;
let browser: Browser;
let upstream: Awaited<ReturnType<typeof startUpstream>>;
let agencySite: Server;
let agencyOrigin: string;

beforeAll(async () => {
  agencySite = createServer((_req, res) =>
    res
      .writeHead(200, { 'content-type': 'text/html' })
      .end('<!doctype html><title>Agency</title><p>back at the agency</p>'),
  );
  await new Promise<void>((resolve) => agencySite.listen(0, '127.0.0.1', resolve));
  agencyOrigin = `http://127.0.0.1:${(agencySite.address() as AddressInfo).port}`;
  [app, browser] = await Promise.all([startTestApp(), launchChromium()]);
  upstream = await startUpstream({
    redirectUri: app.services.federation.redirectUri,
    users: { 'kim-2931': { name: '김하나' } },
  });
  await registerUpstream(app, {
    id: 'gov-app',
    issuer: upstream.issuer,
    client_secret: upstream.clientSecret,
    acr: 'urn:one-id:loa:substantial',
    claims: { name: 'name' },
    display_name: { ko: '정부 앱', en: 'Government app' },
  });
});
afterAll(async () => {
  if (app) await retireUpstreams(app, ['gov-app']);
  await browser?.close();
  await upstream?.close();
  agencySite?.closeAllConnections();
  agencySite?.close();
  await app?.stop();
});

/** A fresh profile; the page never offers autofill, so the buttons run the ceremonies (as in test/e2e). */
const freshContext = async (): Promise<BrowserContext> => {
  const context = await citizenContext(browser, {}, { waitMs: WAIT });
  return context;
};

describe('federated sign-in in Chromium', () => {
  it('links an upstream identity with a passkey, then signs in straight through', async () => {
    const client = await registerClient(app, { redirect_uris: [`${agencyOrigin}/cb`] });
    const config = await discover(app, client);
    const context = await freshContext();
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text()))
        problems.push(m.text());
    });
    await addVirtualAuthenticator(page, { residentKey: true });
    const { account, url } = await app.services.accounts.enrolCitizen(
      { name: '김하나', birthdate: '1991-09-09' },
      'test',
    );
    await page.goto(url);
    await page.click('#register-button');
    await page.waitForURL(`${app.issuer}/enrol/done`);

    const first = await authorizationRequest(config, client.redirectUri);
    await page.goto(first.url.href);
    await page.locator('button[data-upstream="gov-app"]').click();
    // Out to the upstream and back: One-ID's linking page.
    await page.waitForURL(/\/federation\/link$/);
    await page.click('#passkey-button');
    await page.locator('button[name=decision][value=approve]').click();
    await page.waitForURL((u) => u.href.startsWith(client.redirectUri));
    const linked = await oidc.authorizationCodeGrant(config, new URL(page.url()), {
      pkceCodeVerifier: first.verifier,
      expectedState: first.state,
      expectedNonce: first.nonce,
    });
    expect(linked.claims()).toMatchObject({
      acr: 'urn:one-id:loa:substantial',
      amr: ['fed', 'pwd', 'otp', 'mfa', 'hwk', 'user'],
    });
    expect(
      await app.knex('federated_identities').where({ subject: 'kim-2931' }).first(),
    ).toMatchObject({ account_id: account.id, linked_by: 'passkey' });
    expect(problems).toEqual([]);
    await context.close();

    // A new browser: no One-ID session, no passkey needed, the link does the work.
    const again = await freshContext();
    const next = await again.newPage();
    const second = await authorizationRequest(config, client.redirectUri);
    await next.goto(second.url.href);
    await next.locator('button[data-upstream="gov-app"]').click();
    await next.waitForURL((u) => u.href.startsWith(client.redirectUri));
    const claims = (
      await oidc.authorizationCodeGrant(config, new URL(next.url()), {
        pkceCodeVerifier: second.verifier,
        expectedState: second.state,
        expectedNonce: second.nonce,
      })
    ).claims()!;
    expect(claims.sub).toBe(linked.claims()!.sub);
    expect(claims).toMatchObject({
      acr: 'urn:one-id:loa:substantial',
      amr: ['fed', 'pwd', 'otp', 'mfa'],
    });
    await again.close();
  });
});
