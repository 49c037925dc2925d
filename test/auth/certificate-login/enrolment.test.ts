// A valid certificate with no account: self-enrolment from the certificate's facts, then a
// sign-in an agency's RP (openid-client) sees at acr high. Renewed certificates map to the
// same account; step-up from a passkey session needs the certificate.
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MESSAGES } from '../../../src/http/render/messages.ts';
import { startTestApp, type TestApp } from '../../support/app.ts';
import {
  createBrowserSession,
  csrfFrom,
  type BrowserSession,
} from '../../support/browser-session.ts';
import {
  authorizationRequest,
  discover,
  enrolCitizen,
  registerClient,
  signIn,
} from '../../support/flows.ts';
import type { Issued } from '../../support/pki.ts';
import {
  acceptEnrolment,
  auditRows,
  certificateEnv,
  challengeSignIn,
  continueToClient,
  createTestPki,
  fingerprintOf,
  linkCertificate,
  openLogin,
  redeem,
  redeemTokens,
  startRp,
  type TestPki,
} from './support.ts';

let pki: TestPki;
let app: TestApp;

beforeAll(async () => {
  pki = await createTestPki();
  app = await startTestApp(certificateEnv(pki));
});
afterAll(async () => {
  await app?.stop();
  await pki?.close();
});

const HIGH = 'urn:one-id:loa:high';

/** Signs in by certificate up to the enrolment page; returns its URL and HTML. */
const toEnrolPage = async (session: BrowserSession, authUrl: URL, leaf: Issued) => {
  const login = await openLogin(app, session, authUrl);
  const { body } = await challengeSignIn(app, session, login, leaf, [pki.intermediate]);
  expect(body.location).toBe(`${login.path}/certificate/enrol`);
  const page = await session.request(`${app.issuer}${body.location}`);
  expect(page.status).toBe(200);
  return { url: `${app.issuer}${body.location}`, html: await page.text() };
};

describe('self-enrolment with a certificate', () => {
  it('creates the account from the certificate and signs in to an RP at acr high', async () => {
    const leaf = await pki.citizen({ commonName: '김인증', birthdate: '1975-06-30' });
    const rp = await startRp(app, { scope: 'openid profile' });
    const session = createBrowserSession();
    const enrol = await toEnrolPage(session, rp.request.url, leaf);
    // Name and birthdate come from the certificate and are not editable.
    expect(enrol.html).toContain('value="김인증" readonly');
    expect(enrol.html).toContain('value="1975-06-30" readonly');
    expect(enrol.html).not.toContain('name="name"');
    expect(enrol.html).not.toContain('name="birthdate"');
    // The form is CSRF-protected, and what the browser sends cannot replace the certificate's facts.
    expect((await session.request(enrol.url, { method: 'POST', form: { name: 'x' } })).status).toBe(
      403,
    );
    const done = await session.request(enrol.url, {
      method: 'POST',
      form: { _csrf: csrfFrom(enrol.html), name: 'Mallory', birthdate: '2000-01-01' },
    });
    expect(done.status).toBe(303);
    const callback = await continueToClient(app, session, done.headers.get('location')!);
    const tokens = await redeemTokens(rp, callback);
    expect(tokens.claims()).toMatchObject({ acr: HIGH, amr: ['pop', 'x509'] });
    const userinfo = await oidc.fetchUserInfo(rp.config, tokens.access_token, tokens.claims()!.sub);
    expect(userinfo).toMatchObject({ name: '김인증', birthdate: '1975-06-30' });

    const row = await app
      .knex('account_certificates')
      .where({ fingerprint: fingerprintOf(leaf) })
      .first();
    const account = await app.services.accounts.findById(row.account_id);
    expect(account).toMatchObject({ name: '김인증', birthdate: '1975-06-30', status: 'active' });
    const [created] = await auditRows(app, 'accounts.created.certificate', {
      fingerprint: fingerprintOf(leaf),
    });
    expect(created).toMatchObject({
      actor: `account:${account!.id}`,
      details: { nameFrom: 'certificate', birthdateFrom: 'certificate' },
    });
    // The enrolment is single use: the pending certificate is gone.
    expect((await session.request(enrol.url)).status).toBe(400);
  });

  it('asks for what the certificate lacks: the birthdate is required and checked', async () => {
    const leaf = await pki.citizen({ commonName: '이생일' });
    const rp = await startRp(app, { scope: 'openid profile' });
    const session = createBrowserSession();
    const enrol = await toEnrolPage(session, rp.request.url, leaf);
    expect(enrol.html).toContain('value="이생일" readonly');
    expect(enrol.html).toContain('name="birthdate"');
    const missing = await session.request(enrol.url, {
      method: 'POST',
      form: { _csrf: csrfFrom(enrol.html), birthdate: '' },
    });
    expect(missing.status).toBe(400);
    expect(await missing.text()).toContain(MESSAGES.ko['enrol.certificate.invalid.birthdate']);
    const impossible = await session.request(enrol.url, {
      method: 'POST',
      form: { _csrf: csrfFrom(enrol.html), birthdate: '1990-02-30' },
    });
    expect(impossible.status).toBe(400);
    const done = await session.request(enrol.url, {
      method: 'POST',
      form: { _csrf: csrfFrom(enrol.html), birthdate: '1990-02-28' },
    });
    expect(done.status).toBe(303);
    const claims = await redeem(
      rp,
      await continueToClient(app, session, done.headers.get('location')!),
    );
    expect(claims.acr).toBe(HIGH);
    const row = await app
      .knex('account_certificates')
      .where({ fingerprint: fingerprintOf(leaf) })
      .first();
    expect(await app.services.accounts.findById(row.account_id)).toMatchObject({
      name: '이생일',
      birthdate: '1990-02-28',
    });
  });

  it('maps a renewed certificate (new key and serial, same holder id) to the same account', async () => {
    const holder = 'KR-RENEW-0001-' + Date.now();
    const original = await pki.citizen({
      subjectSerialNumber: holder,
      commonName: '박갱신',
      birthdate: '1969-12-01',
    });
    const renewed = await pki.citizen({
      subjectSerialNumber: holder,
      commonName: '박갱신',
      birthdate: '1969-12-01',
    });
    const client = await registerClient(app);
    const config = await discover(app, client);
    const signInWith = async (leaf: Issued) => {
      const request = await authorizationRequest(config, client.redirectUri);
      const session = createBrowserSession();
      const login = await openLogin(app, session, request.url);
      let { body } = await challengeSignIn(app, session, login, leaf, [pki.intermediate]);
      if (body.location!.endsWith('/certificate/enrol'))
        body = { location: await acceptEnrolment(app, session, body.location!) };
      const callback = await continueToClient(app, session, body.location!);
      return (
        await oidc.authorizationCodeGrant(config, new URL(callback), {
          pkceCodeVerifier: request.verifier,
          expectedState: request.state,
          expectedNonce: request.nonce,
        })
      ).claims()!;
    };
    const first = await signInWith(original);
    const second = await signInWith(renewed);
    expect(second.sub).toBe(first.sub);
    const rows = await app
      .knex('account_certificates')
      .whereIn('fingerprint', [fingerprintOf(original), fingerprintOf(renewed)]);
    expect(rows).toHaveLength(2);
    expect(new Set(rows.map((r) => r.account_id)).size).toBe(1);
    const [linked] = await auditRows(app, 'auth.certificate.linked', {
      fingerprint: fingerprintOf(renewed),
    });
    expect(linked!.details.via).toBe('renewal');
  });
});

describe('step-up to acr high', () => {
  it('sends a passkey session to sign in again; a passkey gets unmet_authentication_requirements, a certificate gets high', async () => {
    const citizen = await enrolCitizen(app, { name: '최단계', birthdate: '1988-08-08' });
    // The counter linked this citizen's certificate to the account.
    const leaf = await pki.citizen({ commonName: '최단계', birthdate: '1988-08-08' });
    await linkCertificate(app, citizen.account.id, leaf, [pki.intermediate]);

    const client = await registerClient(app);
    const config = await discover(app, client);
    const session = createBrowserSession();
    const plainRequest = await authorizationRequest(config, client.redirectUri);
    const passkeyClaims = (
      await oidc.authorizationCodeGrant(
        config,
        new URL(await signIn(app, session, citizen.authenticator, plainRequest.url)),
        {
          pkceCodeVerifier: plainRequest.verifier,
          expectedState: plainRequest.state,
          expectedNonce: plainRequest.nonce,
        },
      )
    ).claims()!;
    expect(passkeyClaims.acr).toBe('urn:one-id:loa:substantial');

    // The same session, now asked for high: the login page again, certificate first.
    const highRequest = await authorizationRequest(config, client.redirectUri, {
      acr_values: HIGH,
    });
    const login = await openLogin(app, session, highRequest.url);
    expect(login.html).toContain('class="notice"');
    expect(login.html.indexOf('id="certificate-login"')).toBeLessThan(
      login.html.indexOf('id="passkey-login"'),
    );
    expect(login.html).toMatch(/class="secondary" id="passkey-button"/);
    // A passkey cannot satisfy it.
    const refused = new URL(await signIn(app, session, citizen.authenticator, highRequest.url));
    expect(refused.searchParams.get('error')).toBe('unmet_authentication_requirements');

    const stepUp = await authorizationRequest(config, client.redirectUri, { acr_values: HIGH });
    const again = await openLogin(app, session, stepUp.url);
    const { body } = await challengeSignIn(app, session, again, leaf, [pki.intermediate]);
    const callback = await continueToClient(app, session, body.location!);
    const claims = (
      await oidc.authorizationCodeGrant(config, new URL(callback), {
        pkceCodeVerifier: stepUp.verifier,
        expectedState: stepUp.state,
        expectedNonce: stepUp.nonce,
      })
    ).claims()!;
    expect(claims).toMatchObject({ acr: HIGH, amr: ['pop', 'x509'], sub: passkeyClaims.sub });
  });
});
