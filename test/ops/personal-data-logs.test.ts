// Logs never hold a citizen's name, person id, email, phone or birthdate (docs/security.md):
// everything the app's logger writes (every level) during certificate sign-in (accepted,
// refused, and revocation status unknown: a 503 logged as "request failed"), passkey sign-in,
// consent (granted, withdrawn) and administration (console and API) is scanned for the test
// citizens' personal data.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPrincipal } from '../../src/admin/index.ts';
import { adminToken, apiClient, consoleSignIn } from '../admin/support.ts';
import {
  certificateEnv,
  challengeSignIn,
  continueToClient,
  createTestPki,
  linkCertificate,
  openLogin,
  startRp,
  type TestPki,
} from '../auth/certificate-login/support.ts';
import { captureLogs } from '../hardening/support.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { createBrowserSession, csrfFrom } from '../support/browser-session.ts';
import { closedUrl } from '../federation/support.ts';
import { enrolCitizen, signIn } from '../support/flows.ts';
import { generateKeys } from '../support/pki.ts';

const CITIZEN = {
  name: '최개인',
  birthdate: '1968-03-21',
  email: 'choi.private@example.com',
  phone: '010-4321-8765',
};
const ADMIN = {
  name: '관리자윤서',
  birthdate: '1981-11-30',
  email: 'yoon.admin@example.go.kr',
  phone: '010-2468-1357',
};
const PERSON_ID = 'KR-681021-PRIVATE';

const logs = captureLogs('trace');
let app: TestApp;
let pki: TestPki;

beforeAll(async () => {
  pki = await createTestPki();
  app = await startTestApp(certificateEnv(pki), { app: { logger: logs.logger } });
});
afterAll(async () => {
  await app?.stop();
  await pki?.close();
});

describe('logs', () => {
  it('hold no personal data after certificate, passkey, consent and admin flows', async () => {
    const citizen = await enrolCitizen(app, CITIZEN);
    const leaf = await pki.citizen({ commonName: CITIZEN.name, subjectSerialNumber: PERSON_ID });
    await linkCertificate(app, citizen.account.id, leaf, [pki.intermediate]);

    // Passkey sign-in and consent to an agency system, then the consent withdrawn on My One-ID.
    const rp = await startRp(app, { scope: 'openid profile email phone' });
    const browser = createBrowserSession();
    await signIn(app, browser, citizen.authenticator, rp.request.url);
    const account = await browser.follow(`${app.issuer}/account`, app.issuer);
    const consent = await app.knex('consents').where({ account_id: citizen.account.id }).first();
    const withdrawn = await browser.request(
      `${app.issuer}/account/consents/${consent.id}/withdraw`,
      { method: 'POST', form: { _csrf: csrfFrom(await account.res.text()) } },
    );
    expect(withdrawn.status).toBe(302);

    // Certificate sign-in: accepted, refused (another key), and revocation status unknown.
    const signedIn = createBrowserSession();
    const accepted = await startRp(app);
    const login = await openLogin(app, signedIn, accepted.request.url);
    const ok = await challengeSignIn(app, signedIn, login, leaf, [pki.intermediate]);
    expect(ok.res.status).toBe(200);
    await continueToClient(app, signedIn, ok.body.location!);
    const refusedSession = createBrowserSession();
    const refusedLogin = await openLogin(app, refusedSession, (await startRp(app)).request.url);
    const refused = await challengeSignIn(
      app,
      refusedSession,
      refusedLogin,
      leaf,
      [pki.intermediate],
      { key: (await generateKeys()).privateKey },
    );
    expect(refused.res.status).toBe(401);
    const unreachable = await pki.citizen({
      commonName: CITIZEN.name,
      subjectSerialNumber: PERSON_ID,
      crlUrl: `${await closedUrl()}/ca.crl`,
    });
    const unknownSession = createBrowserSession();
    const unknownLogin = await openLogin(app, unknownSession, (await startRp(app)).request.url);
    const unknown = await challengeSignIn(app, unknownSession, unknownLogin, unreachable, [
      pki.intermediate,
    ]);
    expect(unknown.res.status).toBe(503);

    // Administration: a platform administrator in the console and the API (a 4xx too).
    const admin = await enrolCitizen(app, ADMIN);
    await app.services.admin.admins.grant(cliPrincipal(), {
      accountId: admin.account.id,
      role: 'platform',
      agency: null,
    });
    const console$ = await consoleSignIn(app, admin);
    expect((await console$.request(`${app.issuer}/admin/clients`)).status).toBe(200);
    const api = apiClient(app, await adminToken(app, admin));
    expect((await api('GET', `/clients/${accepted.client.clientId}`)).status).toBe(200);
    expect((await api('PUT', '/agencies/x', { contact: 42 })).status).toBe(400);

    await new Promise((resolve) => setImmediate(resolve));
    for (const [who, person] of [
      ['citizen', CITIZEN],
      ['administrator', ADMIN],
    ] as const)
      logs.expectNone({
        [`${who}'s name`]: person.name,
        [`${who}'s birthdate`]: person.birthdate,
        [`${who}'s email`]: person.email,
        [`${who}'s phone`]: person.phone,
        [`${who}'s phone digits`]: person.phone.replaceAll('-', ''),
      });
    logs.expectNone({ 'person id': PERSON_ID });
    // The 503 was logged, naming the certificate by issuer and serial.
    const failed = logs.lines.filter((l) => l.includes('request failed'));
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.join('\n')).toContain(unreachable.cert.serialNumber);
  });
});
