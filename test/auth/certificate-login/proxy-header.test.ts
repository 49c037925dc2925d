// A TLS-terminating reverse proxy forwards the client certificate in a header. One-ID reads
// it only from a trusted TCP peer (TRUSTED_PROXIES, never X-Forwarded-For) and only when it
// occurs exactly once; anything else is ignored, audited, and refused with a readable page.
// The test client connects from 127.0.0.1: trusted in one app, untrusted in another.
import { request, type OutgoingHttpHeaders } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MESSAGES } from '../../../src/http/render/messages.ts';
import { startTestApp, type TestApp } from '../../support/app.ts';
import { createBrowserSession, type BrowserSession } from '../../support/browser-session.ts';
import type { Issued } from '../../support/pki.ts';
import {
  acceptEnrolment,
  auditRows,
  certificateEnv,
  continueToClient,
  createTestPki,
  fingerprintOf,
  openLogin,
  rawAnswer,
  redeem,
  startRp,
  type TestPki,
} from './support.ts';

let pki: TestPki;
let trusted: TestApp;
let untrusted: TestApp;
let nginx: TestApp;

beforeAll(async () => {
  pki = await createTestPki();
  // One after the other: on the shared PostgreSQL, instances starting at the same moment race
  // to create the first-party client.
  trusted = await startTestApp(certificateEnv(pki, { TRUSTED_PROXIES: '127.0.0.1' }));
  untrusted = await startTestApp(certificateEnv(pki, { TRUSTED_PROXIES: '10.0.0.0/8,::1' }));
  nginx = await startTestApp(
    certificateEnv(pki, {
      TRUSTED_PROXIES: '127.0.0.0/8',
      CERT_HEADER: 'X-SSL-Client-Cert',
      CERT_HEADER_FORMAT: 'nginx-escaped',
    }),
  );
});
afterAll(async () => {
  await Promise.all([trusted?.stop(), untrusted?.stop(), nginx?.stop()]);
  await pki?.close();
});

const rfc9440 = (cert: Issued) => `:${cert.b64}:`;

/** GET with exact header lines (an array value is sent as repeated lines), with the session's cookies. */
const rawGet = (url: string, session: BrowserSession, headers: OutgoingHttpHeaders) =>
  rawAnswer(
    request(url, {
      method: 'GET',
      headers: { ...headers, cookie: [...session.jar].map(([k, v]) => `${k}=${v}`).join('; ') },
    }),
  );

/** Opens a login page on `app` and returns the proxy route's URL for its interaction. */
const proxyRoute = async (app: TestApp) => {
  const session = createBrowserSession();
  const rp = await startRp(app);
  const login = await openLogin(app, session, rp.request.url);
  return { session, rp, login, url: `${app.issuer}${login.path}/certificate/proxy` };
};

/** A readable refusal page naming `code`, never a stack trace. */
const expectRefusalPage = (
  answer: { status: number; body: string },
  status: number,
  code: string,
) => {
  expect(answer.status).toBe(status);
  expect(answer.body).toContain(MESSAGES.ko[`err.${code}` as keyof typeof MESSAGES.ko]);
  expect(answer.body).toContain(`<code>${code}</code>`);
  // The way back to the sign-in page, whose interaction is still open.
  expect(answer.body).toMatch(/<a id="certificate-retry" href="\/interaction\/[\w-]+">/);
  expect(answer.body).not.toMatch(/\bat \S+ \(|\.ts:\d+|node_modules/);
};

const since = async (app: TestApp) =>
  Number((await app.knex('audit_events').max('id as id').first())?.id ?? 0);
const auditSince = (app: TestApp, after: number, action: string) =>
  app.knex('audit_events').where('id', '>', after).andWhere({ action }).orderBy('id') as Promise<
    { ip: string; details: Record<string, unknown> }[]
  >;

describe('certificate forwarded by a trusted proxy', () => {
  it('signs in from a trusted peer with the header once (and the chain header)', async () => {
    const leaf = await pki.citizen({ commonName: '한프록시', birthdate: '1983-03-03' });
    const { session, rp, login, url } = await proxyRoute(trusted);
    expect(login.html).toContain(`action="${login.path}/certificate/proxy"`);
    const answer = await rawGet(url, session, {
      'client-cert': rfc9440(leaf),
      'client-cert-chain': rfc9440(pki.intermediate),
    });
    expect(answer.status).toBe(303);
    expect(answer.location).toBe(`${login.path}/certificate/enrol`);
    const enrolled = await acceptEnrolment(trusted, session, answer.location!);
    const claims = await redeem(rp, await continueToClient(trusted, session, enrolled));
    expect(claims).toMatchObject({ acr: 'urn:one-id:loa:high', amr: ['pop', 'mtls', 'x509'] });
    const [row] = await auditRows(trusted, 'auth.certificate.verified', {
      fingerprint: fingerprintOf(leaf),
      method: 'proxy',
    });
    expect(row).toBeDefined();
    // The system signed in to, which the citizen's activity list names.
    expect(row!.details.clientId).toBe(rp.client.clientId);
  });

  it("accepts a CIDR range, a custom header name and nginx's escaped PEM", async () => {
    const leaf = await pki.citizen();
    const { session, login, url } = await proxyRoute(nginx);
    const answer = await rawGet(url, session, {
      'x-ssl-client-cert': encodeURIComponent(leaf.pem),
      'x-ssl-client-cert-chain': rfc9440(pki.intermediate),
    });
    expect(answer.location).toBe(`${login.path}/certificate/enrol`);
  });

  it('refuses a valid-looking header from an untrusted peer, whatever X-Forwarded-For says, and audits it', async () => {
    const leaf = await pki.citizen();
    const { session, login, url } = await proxyRoute(untrusted);
    // No mutual-TLS listener; the proxy button is offered because TRUSTED_PROXIES is set.
    expect(login.html).toContain('certificate-proxy-button');
    const before = await since(untrusted);
    const answer = await rawGet(url, session, {
      'client-cert': rfc9440(leaf),
      'client-cert-chain': rfc9440(pki.intermediate),
      'x-forwarded-for': '10.1.2.3',
    });
    expectRefusalPage(answer, 401, 'ERR_CERT_NO_PROOF');
    const [ignored] = await auditSince(untrusted, before, 'auth.certificate.header_ignored');
    expect(ignored!.details).toMatchObject({
      reason: 'untrusted_peer',
      peer: expect.stringMatching(/127\.0\.0\.1$/),
    });
    // The audit's address is the TCP peer: an untrusted peer's X-Forwarded-For is not believed.
    expect(ignored!.ip).toMatch(/127\.0\.0\.1$/);
    const [rejected] = await auditSince(untrusted, before, 'auth.certificate.rejected');
    expect(rejected!.details).toMatchObject({ method: 'proxy', reason: 'no_proof' });
    expect(
      await untrusted
        .knex('account_certificates')
        .where({ fingerprint: fingerprintOf(leaf) })
        .first(),
    ).toBeUndefined();
  });

  it('ignores the header sent twice, even from the trusted proxy', async () => {
    const leaf = await pki.citizen();
    const { session, url } = await proxyRoute(trusted);
    const before = await since(trusted);
    const answer = await rawGet(url, session, { 'client-cert': [rfc9440(leaf), rfc9440(leaf)] });
    expectRefusalPage(answer, 401, 'ERR_CERT_NO_PROOF');
    const [ignored] = await auditSince(trusted, before, 'auth.certificate.header_ignored');
    expect(ignored!.details).toMatchObject({
      reason: 'duplicate_header',
      peer: expect.stringMatching(/127\.0\.0\.1$/),
    });
  });

  it('ignores a header line holding two values', async () => {
    const leaf = await pki.citizen();
    const { session, url } = await proxyRoute(trusted);
    const before = await since(trusted);
    const answer = await rawGet(url, session, {
      'client-cert': `${rfc9440(leaf)}, ${rfc9440(pki.intermediate)}`,
    });
    expectRefusalPage(answer, 401, 'ERR_CERT_NO_PROOF');
    expect(
      (await auditSince(trusted, before, 'auth.certificate.header_ignored'))[0]!.details.reason,
    ).toBe('duplicate_header');
  });

  it.each([
    ['no header at all', {}, 401, 'ERR_CERT_NO_PROOF'],
    [
      'an empty header (no certificate at the proxy)',
      { 'client-cert': '' },
      401,
      'ERR_CERT_NO_PROOF',
    ],
    ['garbage', { 'client-cert': ':not base64!:' }, 401, 'ERR_CERT_MALFORMED'],
    [
      'bytes that are no certificate',
      { 'client-cert': `:${Buffer.from('hello').toString('base64')}:` },
      401,
      'ERR_CERT_MALFORMED',
    ],
  ] as const)('refuses %s from the trusted proxy', async (_name, headers, status, code) => {
    const { session, url } = await proxyRoute(trusted);
    const answer = await rawGet(url, session, headers);
    expectRefusalPage(answer, status, code);
  });

  it('refuses an invalid certificate from the trusted proxy with its reason', async () => {
    const expired = await pki.citizen({ expired: true });
    const { session, url } = await proxyRoute(trusted);
    expectRefusalPage(
      await rawGet(url, session, {
        'client-cert': rfc9440(expired),
        'client-cert-chain': rfc9440(pki.intermediate),
      }),
      401,
      'ERR_CERT_EXPIRED',
    );
    const [row] = await auditRows(trusted, 'auth.certificate.rejected', {
      fingerprint: fingerprintOf(expired),
    });
    expect(row!.details).toMatchObject({ method: 'proxy', reason: 'expired' });
    // Without the chain header nothing links the leaf to an anchor: "not issued by a trusted
    // authority", not "send the whole chain" (the citizen cannot change what the proxy forwards).
    const other = await proxyRoute(trusted);
    expectRefusalPage(
      await rawGet(other.url, other.session, { 'client-cert': rfc9440(await pki.citizen()) }),
      401,
      'ERR_CERT_UNTRUSTED',
    );
  });

  it('needs the interaction cookie: the header alone signs no one in', async () => {
    const { login } = await proxyRoute(trusted);
    const answer = await rawGet(
      `${trusted.issuer}${login.path}/certificate/proxy`,
      createBrowserSession(),
      {
        'client-cert': rfc9440(await pki.citizen()),
        'client-cert-chain': rfc9440(pki.intermediate),
      },
    );
    expect(answer.status).toBe(400);
    expect(answer.location).toBeUndefined();
  });
});
