// The whole FAPI 2.0 flow as an agency system and a citizen live it: oauth4webapi pushes the
// request (PAR, private_key_jwt or tls_client_auth, PKCE S256), the citizen signs in with a
// passkey in real Chromium (CDP virtual authenticator) and consents, and the system redeems the
// code with DPoP or, separately, over mutual TLS. Userinfo answers only the bound sender, and
// introspection states the binding (cnf.jkt, cnf.x5t#S256).
import { calculateJwkThumbprint, exportJWK } from 'jose';
import * as oauth from 'oauth4webapi';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { addVirtualAuthenticator, citizenContext, launchChromium } from '../support/chromium.ts';
import { DEFAULT_ALLOWANCES } from '../support/flows.ts';
import type { Issued } from '../support/pki.ts';
import { startMtlsApp, thumbprint, type MtlsApp } from './mtls-support.ts';
import {
  createFapiRp,
  discover,
  pushRequest,
  registerFapiClient,
  REDIRECT_URI,
} from './support.ts';

let mtls: MtlsApp;
let browser: Browser;
const insecure = { [oauth.allowInsecureRequests]: true } as const;

beforeAll(async () => {
  [mtls, browser] = await Promise.all([startMtlsApp(), launchChromium()]);
});
afterAll(async () => {
  await browser?.close();
  await mtls?.stop();
});

/**
 * A fresh browser profile with a passkey enrolled from the counter's link; the agency's callback
 * (no server answers it) is fulfilled here, and the test reads the URL the browser landed on.
 */
const citizenBrowser = async (citizen: { name: string; birthdate: string }) => {
  const context = await citizenContext(browser);
  onTestFinished(() => context.close());
  const page = await context.newPage();
  await addVirtualAuthenticator(page, { residentKey: true });
  const { url } = await mtls.app.services.accounts.enrolCitizen(citizen, 'test');
  await page.goto(url);
  await page.click('#register-button');
  await page.waitForURL(`${mtls.app.issuer}/enrol/done`);
  await page.route(`${new URL(REDIRECT_URI).origin}/**`, (route) =>
    route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><p>agency' }),
  );
  return page;
};

/** Opens the pushed request's URL, signs in with the passkey button, consents; the callback. */
const signInInBrowser = async (page: Page, url: URL) => {
  await page.goto(url.href);
  await page.waitForURL(/\/interaction\//);
  await page.click('#passkey-button');
  const approve = page.locator('button[name=decision][value=approve]');
  await approve.waitFor({ state: 'visible' });
  await approve.click();
  await page.waitForURL((u) => u.href.startsWith(REDIRECT_URI));
  return new URL(page.url());
};

describe('FAPI 2.0 in Chromium, driven by oauth4webapi', () => {
  it('with DPoP: PAR, passkey sign-in, DPoP-bound tokens; userinfo and introspection confirm cnf.jkt', async () => {
    const page = await citizenBrowser({ name: '윤서아', birthdate: '1990-03-03' });
    const { app } = mtls;
    const fapi = await registerFapiClient(app);
    const rp = await createFapiRp(app, fapi);
    const request = await rp.push();
    const callback = await signInInBrowser(page, request.url);
    // RFC 9207: the response names its issuer; oauth4webapi checks it with the state.
    expect(callback.searchParams.get('iss')).toBe(app.issuer);
    const tokens = await oauth.processAuthorizationCodeResponse(
      rp.as,
      fapi.client,
      await rp.redeem({ ...request, callback }),
      { expectedNonce: request.nonce, requireIdToken: true },
    );
    expect(tokens.token_type.toLowerCase()).toBe('dpop');
    const claims = oauth.getValidatedIdTokenClaims(tokens)!;
    expect(claims.amr).toEqual(expect.arrayContaining(['user']));

    const info = await oauth.processUserInfoResponse(
      rp.as,
      fapi.client,
      claims.sub,
      await oauth.userInfoRequest(rp.as, fapi.client, tokens.access_token, {
        ...insecure,
        DPoP: rp.dpop,
      }),
    );
    expect(info.name).toBe('윤서아');
    // The same token without its key's proof (as a bearer token) is refused.
    const bearer = await fetch(`${app.issuer}/me`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    expect(bearer.status).toBe(401);

    const introspection = await rp.introspect(tokens.access_token);
    expect(introspection).toMatchObject({ active: true, token_type: 'DPoP' });
    expect(introspection.cnf?.jkt).toBe(
      await calculateJwkThumbprint(await exportJWK(rp.dpopKeys.publicKey)),
    );
  });

  it('with mTLS: tls_client_auth, passkey sign-in, certificate-bound tokens; userinfo and introspection confirm cnf.x5t#S256', async () => {
    const page = await citizenBrowser({ name: '강도윤', birthdate: '1985-12-12' });
    const { app, listener } = mtls;
    const cert = await mtls.systemCertificate();
    const clientId = `pki-${thumbprint(cert).slice(0, 10)}`;
    await app.services.clients.addClient(
      {
        client_id: clientId,
        client_name: 'PKI mTLS RP',
        agency: 'Test Agency',
        redirect_uris: [REDIRECT_URI],
        security_profile: 'fapi2',
        token_endpoint_auth_method: 'tls_client_auth',
        tls_client_auth_subject_dn: 'CN=rp.example.go.kr, O=One-ID Test, C=KR',
        tls_client_certificate_bound_access_tokens: true,
        allowed_claims: DEFAULT_ALLOWANCES,
      },
      'test',
    );
    const as = await discover(app);
    expect(as.mtls_endpoint_aliases?.userinfo_endpoint).toBe(`${listener}/me`);
    const client: oauth.Client = { client_id: clientId, use_mtls_endpoint_aliases: true };
    const auth = oauth.TlsClientAuth();
    const over = (presented: Issued) => ({
      ...insecure,
      [oauth.customFetch]: mtls.fetchWith(presented, [mtls.agencyCa]) as typeof fetch,
    });

    const nonce = oauth.generateRandomNonce();
    const { url, verifier, state } = await pushRequest(as, client, auth, over(cert), { nonce });
    const callback = await signInInBrowser(page, url);
    const tokens = await oauth.processAuthorizationCodeResponse(
      as,
      client,
      await oauth.authorizationCodeGrantRequest(
        as,
        client,
        auth,
        oauth.validateAuthResponse(as, client, callback, state),
        REDIRECT_URI,
        verifier,
        over(cert),
      ),
      { expectedNonce: nonce, requireIdToken: true },
    );
    const sub = oauth.getValidatedIdTokenClaims(tokens)!.sub;

    // oauth4webapi sends userinfo to the listener's alias (mtls_endpoint_aliases) with the certificate.
    const info = await oauth.processUserInfoResponse(
      as,
      client,
      sub,
      await oauth.userInfoRequest(as, client, tokens.access_token, over(cert)),
    );
    expect(info.name).toBe('강도윤');
    // Another certificate of the same trusted CA (the same subject even) is not the bound one.
    const sibling = await mtls.systemCertificate();
    const stolen = await oauth.userInfoRequest(as, client, tokens.access_token, over(sibling));
    expect(stolen.status).toBe(401);

    const introspection = await oauth.processIntrospectionResponse(
      as,
      client,
      await oauth.introspectionRequest(as, client, auth, tokens.access_token, over(cert)),
    );
    expect(introspection).toMatchObject({ active: true, client_id: clientId, sub });
    expect(introspection.cnf?.['x5t#S256']).toBe(thumbprint(cert));
  });
});
