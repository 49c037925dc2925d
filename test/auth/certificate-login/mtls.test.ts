// Certificate sign-in over real mutual TLS: the login page hands a single-use ticket to the
// dedicated HTTPS listener (CERT_LOGIN_PORT), Node's https client presents the citizen's
// certificate in the handshake, and the interaction is completed in the cookie session.
import { request } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MESSAGES } from '../../../src/http/render/messages.ts';
import { freePort, startTestApp, type TestApp } from '../../support/app.ts';
import { createBrowserSession, type BrowserSession } from '../../support/browser-session.ts';
import { createCrl, type Issued } from '../../support/pki.ts';
import {
  acceptEnrolment,
  auditRows,
  certificateEnv,
  continueToClient,
  createTestPki,
  fingerprintOf,
  openLogin,
  privateKeyPem,
  rawAnswer,
  redeem,
  startRp,
  type TestPki,
} from './support.ts';

let pki: TestPki;
let app: TestApp;
let loginPort: number;
let revoked: Issued;

beforeAll(async () => {
  pki = await createTestPki();
  const { certPath, keyPath } = await pki.serverFiles();
  loginPort = await freePort();
  // CERT_CRL_URLS: the leaves here carry no CRL pointer; the "local mirror" setting supplies it.
  revoked = await pki.citizen({ crlUrl: undefined });
  pki.server.serveCrl(
    '/mirror.crl',
    await createCrl(pki.intermediate, { revokedSerials: [revoked.cert.serialNumber] }),
  );
  app = await startTestApp(
    certificateEnv(pki, {
      CERT_LOGIN_PORT: String(loginPort),
      TLS_CERT: certPath,
      TLS_KEY: keyPath,
      CERT_CRL_URLS: `${pki.server.url}/mirror.crl`,
    }),
  );
});
afterAll(async () => {
  await app?.stop();
  await pki?.close();
});

/** GET over TLS, trusting the test root, optionally presenting a client certificate and its chain. */
const tlsGet = (url: string, client?: Issued, headers: Record<string, string> = {}) =>
  (async () => {
    const credentials = client
      ? { key: await privateKeyPem(client), cert: `${client.pem}\n${pki.intermediate.pem}` }
      : {};
    return rawAnswer(
      request(url, {
        method: 'GET',
        ca: pki.root.pem,
        agent: false,
        servername: 'localhost',
        headers,
        ...credentials,
      }),
    );
  })();

/** From the login page: the ticket hand-over URL on the mutual-TLS listener. */
const ticketUrl = async (session: BrowserSession, authUrl: URL) => {
  const login = await openLogin(app, session, authUrl);
  expect(login.html).toContain(`action="${login.path}/certificate/tls"`);
  const res = await session.request(`${app.issuer}${login.path}/certificate/tls`, {
    method: 'POST',
    form: { _csrf: login.csrf },
  });
  expect(res.status).toBe(303);
  const location = res.headers.get('location')!;
  expect(location).toMatch(
    new RegExp(`^https://localhost:${loginPort}/certificate/tls\\?ticket=[\\w-]{43}$`),
  );
  return { login, location };
};

const citizen = () =>
  pki.citizen({ crlUrl: undefined, commonName: '정티엘에스', birthdate: '1991-09-09' });

describe('certificate sign-in over mutual TLS', () => {
  it('signs in with the certificate presented in the TLS handshake (amr pop + mtls + x509)', async () => {
    const leaf = await citizen();
    const rp = await startRp(app);
    const session = createBrowserSession();
    const { login, location } = await ticketUrl(session, rp.request.url);
    const tls = await tlsGet(location, leaf);
    expect(tls.status).toBe(303);
    const back = new URL(tls.location!);
    expect(back.origin).toBe(app.issuer);
    expect(back.pathname).toBe(`${login.path}/certificate/complete`);

    // Back on the issuer with the interaction cookie: a new certificate, so self-enrolment first.
    const complete = await session.request(back);
    expect(complete.status).toBe(303);
    expect(complete.headers.get('location')).toBe(`${login.path}/certificate/enrol`);
    const enrolled = await acceptEnrolment(app, session, `${login.path}/certificate/enrol`);
    const claims = await redeem(rp, await continueToClient(app, session, enrolled));
    expect(claims).toMatchObject({ acr: 'urn:one-id:loa:high', amr: ['pop', 'mtls', 'x509'] });
    const [verified] = await auditRows(app, 'auth.certificate.verified', {
      fingerprint: fingerprintOf(leaf),
      method: 'mtls',
    });
    expect(verified!.actor).toMatch(/^account:/);

    // The ticket and its outcome were single use.
    expect((await tlsGet(location, leaf)).status).toBe(400);
    const again = await session.request(back);
    expect(again.status).not.toBe(303);

    // The linked certificate signs straight in next time.
    const rp2 = await startRp(app);
    const session2 = createBrowserSession();
    const second = await ticketUrl(session2, rp2.request.url);
    const completeUrl = (await tlsGet(second.location, leaf)).location!;
    const finished = await session2.request(completeUrl);
    expect(finished.status).toBe(303);
    expect(finished.headers.get('location')).toContain('/auth/');
    expect(
      (await redeem(rp2, await continueToClient(app, session2, finished.headers.get('location')!)))
        .amr,
    ).toEqual(['pop', 'mtls', 'x509']);
  });

  it('refuses a handshake without a client certificate, with a readable page', async () => {
    const session = createBrowserSession();
    const { location } = await ticketUrl(session, (await startRp(app)).request.url);
    const tls = await tlsGet(location);
    expect(tls.status).toBe(303);
    const page = await session.request(tls.location!);
    expect(page.status).toBe(401);
    const html = await page.text();
    expect(html).toContain(MESSAGES.ko['err.ERR_CERT_NO_PROOF']);
    expect(html).toContain('<code>ERR_CERT_NO_PROOF</code>');
    const [row] = await auditRows(app, 'auth.certificate.rejected', {
      method: 'mtls',
      reason: 'no_proof',
    });
    expect(row).toBeDefined();
  });

  it('refuses a revoked certificate presented over TLS, naming the reason', async () => {
    const leaf = revoked;
    const session = createBrowserSession();
    const { location } = await ticketUrl(session, (await startRp(app)).request.url);
    const page = await session.request((await tlsGet(location, leaf)).location!);
    expect(page.status).toBe(401);
    expect(await page.text()).toContain(MESSAGES.ko['err.ERR_CERT_REVOKED']);
    const rows = await auditRows(app, 'auth.certificate.rejected', {
      fingerprint: fingerprintOf(leaf),
    });
    expect(rows[0]!.details).toMatchObject({ method: 'mtls', reason: 'revoked' });
  });

  it('binds a ticket to its interaction: another browser cannot complete with it', async () => {
    const leaf = await citizen();
    const victim = createBrowserSession();
    const { location } = await ticketUrl(victim, (await startRp(app)).request.url);
    const completeUrl = new URL((await tlsGet(location, leaf)).location!);
    const attacker = createBrowserSession();
    const attackerLogin = await openLogin(app, attacker, (await startRp(app)).request.url);
    const stolen = await attacker.request(
      `${app.issuer}${attackerLogin.path}/certificate/complete${completeUrl.search}`,
    );
    expect(stolen.status).toBe(400);
    expect(await stolen.text()).toContain('ERR_CERT_TICKET_INVALID');
  });

  it('answers an unknown ticket on the listener with a readable page', async () => {
    const res = await tlsGet(
      `https://localhost:${loginPort}/certificate/tls?ticket=${'x'.repeat(43)}`,
      await citizen(),
    );
    expect(res.status).toBe(400);
    expect(res.body).toContain(MESSAGES.ko['err.ERR_CERT_TICKET_INVALID']);
    expect((await tlsGet(`https://localhost:${loginPort}/`)).status).toBe(404);
    // The page's stylesheet is served on this origin too (it was a 404 here).
    expect(res.body).toContain('/static/app.css');
    const css = await tlsGet(`https://localhost:${loginPort}/static/app.css`);
    expect(css.status).toBe(200);
    expect(css.body.length).toBeGreaterThan(100);
  });

  it('explains a certificate the proxy refused (nginx error_page 495 496) and offers the passkey', async () => {
    for (const lang of ['ko', 'en'] as const) {
      const res = await fetch(`${app.issuer}/certificate/refused?lang=${lang}`);
      expect(res.status).toBe(400);
      const html = await res.text();
      expect(html).toContain(MESSAGES[lang]['certificate.refused.body']);
      expect(html).toContain(MESSAGES[lang]['certificate.refused.passkey']);
      expect(html).toContain('id="certificate-refused-account" href="/account"');
    }
  });

  it('answers only for its own origin: another Host gets 421 (issue 13)', async () => {
    const url = `https://localhost:${loginPort}/certificate/tls?ticket=${'x'.repeat(43)}`;
    for (const host of ['evil.example', `localhost:${app.port}`, `127.0.0.1:${loginPort}`])
      expect((await tlsGet(url, await citizen(), { host })).status, host).toBe(421);
    expect((await tlsGet(url, await citizen(), { host: `LOCALHOST:${loginPort}` })).status).toBe(
      400,
    );
  });
});
