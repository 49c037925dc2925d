// Certificate sign-in by signed challenge over real HTTP: the login page's certificate
// section, a valid chain signing in, replays and foreign keys refused, and each broken
// certificate refused with its reason in the JSON answer and in the audit trail.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MESSAGES } from '../../../src/http/render/messages.ts';
import { startTestApp, type TestApp } from '../../support/app.ts';
import { createBrowserSession } from '../../support/browser-session.ts';
import {
  OIDS,
  createIntermediateCa,
  createLeaf,
  createRootCa,
  generateKeys,
  tamperSignature,
  type Issued,
} from '../../support/pki.ts';
import {
  auditRows,
  certificateEnv,
  challengeSignIn,
  continueToClient,
  createTestPki,
  fingerprintOf,
  openLogin,
  redeem,
  startRp,
  type TestPki,
} from './support.ts';

let pki: TestPki;
let app: TestApp;
let plain: TestApp;

beforeAll(async () => {
  pki = await createTestPki();
  app = await startTestApp(certificateEnv(pki));
  plain = await startTestApp();
});
afterAll(async () => {
  await Promise.all([app?.stop(), plain?.stop()]);
  await pki?.close();
});

/** Signs in once by certificate (self-enrolling on first use) and returns the RP's claims. */
const signInToRp = async (leaf: Issued, chain: Issued[] = [pki.intermediate]) => {
  const rp = await startRp(app);
  const session = createBrowserSession();
  const login = await openLogin(app, session, rp.request.url);
  const { res, body } = await challengeSignIn(app, session, login, leaf, chain);
  expect(res.status, JSON.stringify(body)).toBe(200);
  let next = body.location!;
  if (next.endsWith('/certificate/enrol')) {
    const page = await session.request(`${app.issuer}${next}`);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1]!;
    const done = await session.request(`${app.issuer}${next}`, {
      method: 'POST',
      form: { _csrf: csrf },
    });
    expect(done.status).toBe(303);
    next = done.headers.get('location')!;
  }
  const claims = await redeem(rp, await continueToClient(app, session, next));
  return { claims, session, clientId: rp.client.clientId };
};

describe('the login page', () => {
  it('offers the signed challenge when certificate login is on, and nothing when it is off', async () => {
    const withCert = await openLogin(app, createBrowserSession(), (await startRp(app)).request.url);
    expect(withCert.html).toContain('id="certificate-login"');
    expect(withCert.html).toContain(`data-challenge-url="${withCert.path}/certificate/challenge"`);
    expect(withCert.html).toContain('id="certificate-jws"');
    // No mutual-TLS listener and no trusted proxy here: no "certificate in this browser" button.
    expect(withCert.html).not.toContain('certificate-tls-button');
    expect(withCert.html).not.toContain('certificate-proxy-button');
    const without = await openLogin(
      plain,
      createBrowserSession(),
      (await startRp(plain)).request.url,
    );
    expect(without.html).not.toContain('certificate');
    // Nor do its routes exist.
    const res = await fetch(`${plain.issuer}${without.path}/certificate/challenge`, {
      method: 'POST',
    });
    expect(res.status).not.toBe(200);
  });
});

describe('certificate sign-in by signed challenge', () => {
  it('signs in with a valid chain at acr high with amr pop + x509, audited with the method', async () => {
    const leaf = await pki.citizen({ commonName: '홍길동', birthdate: '1980-02-03' });
    const first = await signInToRp(leaf);
    expect(first.claims).toMatchObject({ acr: 'urn:one-id:loa:high', amr: ['pop', 'x509'] });
    // The second time the certificate is linked: straight in, no enrolment page.
    const second = await signInToRp(leaf);
    expect(second.claims.acr).toBe('urn:one-id:loa:high');
    const [verified] = await auditRows(app, 'auth.certificate.verified', {
      fingerprint: fingerprintOf(leaf),
    });
    expect(verified).toMatchObject({
      actor: expect.stringMatching(/^account:/),
      // The system signed in to, which the citizen's activity list names.
      details: {
        method: 'challenge',
        revocation: 'good',
        amr: ['pop', 'x509'],
        clientId: second.clientId,
      },
    });
  });

  it('issues a nonce bound to the interaction, with the audience to sign for', async () => {
    const session = createBrowserSession();
    const login = await openLogin(app, session, (await startRp(app)).request.url);
    const res = await session.request(`${app.issuer}${login.path}/certificate/challenge`, {
      method: 'POST',
      json: {},
      headers: { 'x-csrf-token': login.csrf },
    });
    expect(await res.json()).toMatchObject({
      nonce: expect.stringMatching(/^[\w-]{43}$/),
      audience: app.issuer,
      expiresIn: 300,
      typ: 'one-id-cert-challenge+jwt',
      algorithms: ['ES256', 'PS256', 'RS256'],
    });
    // Without the CSRF token: refused.
    const forged = await session.request(`${app.issuer}${login.path}/certificate/challenge`, {
      method: 'POST',
      json: {},
    });
    expect(forged.status).toBe(403);
  });

  it('refuses a replayed signed challenge, and one whose nonce was never issued here', async () => {
    const leaf = await pki.citizen();
    const session = createBrowserSession();
    const login = await openLogin(app, session, (await startRp(app)).request.url);
    const ok = await challengeSignIn(app, session, login, leaf, [pki.intermediate]);
    expect(ok.res.status).toBe(200);
    const replay = await session.request(`${app.issuer}${login.path}/certificate/verify`, {
      method: 'POST',
      json: { jws: ok.jws },
      headers: { 'x-csrf-token': login.csrf },
    });
    expect(replay.status).toBe(401);
    expect(await replay.json()).toMatchObject({
      code: 'ERR_CERT_REPLAYED',
      message: MESSAGES.ko['err.ERR_CERT_REPLAYED'],
    });

    // The same signature presented in another browser's interaction.
    const other = createBrowserSession();
    const otherLogin = await openLogin(app, other, (await startRp(app)).request.url);
    const stolen = await other.request(`${app.issuer}${otherLogin.path}/certificate/verify`, {
      method: 'POST',
      json: { jws: ok.jws },
      headers: { 'x-csrf-token': otherLogin.csrf },
    });
    expect((await stolen.json()).code).toBe('ERR_CERT_REPLAYED');
    const rows = await auditRows(app, 'auth.certificate.rejected', {
      fingerprint: fingerprintOf(leaf),
    });
    expect(rows.map((r) => r.details.reason)).toEqual(['replayed', 'replayed']);
    expect(rows[0]!.details.method).toBe('challenge');
  });

  it("refuses a challenge signed by a key other than the certificate's", async () => {
    const leaf = await pki.citizen();
    const session = createBrowserSession();
    const login = await openLogin(app, session, (await startRp(app)).request.url);
    const { res, body } = await challengeSignIn(app, session, login, leaf, [pki.intermediate], {
      key: (await generateKeys()).privateKey,
    });
    expect(res.status).toBe(401);
    expect(body).toMatchObject({
      code: 'ERR_CERT_NO_PROOF',
      message: MESSAGES.ko['err.ERR_CERT_NO_PROOF'],
    });
    const [row] = await auditRows(app, 'auth.certificate.rejected', {
      fingerprint: fingerprintOf(leaf),
    });
    expect(row!.details).toMatchObject({ reason: 'no_proof', method: 'challenge' });
    // Nothing was linked or created for it.
    expect(
      await app
        .knex('account_certificates')
        .where({ fingerprint: fingerprintOf(leaf) })
        .first(),
    ).toBeUndefined();
  });

  it('refuses a missing or empty signature with no_proof', async () => {
    const session = createBrowserSession();
    const login = await openLogin(app, session, (await startRp(app)).request.url);
    const res = await session.request(`${app.issuer}${login.path}/certificate/verify`, {
      method: 'POST',
      json: { jws: '' },
      headers: { 'x-csrf-token': login.csrf, 'accept-language': 'en' },
    });
    expect(res.status).toBe(401);
    expect((await res.json()).code).toBe('ERR_CERT_NO_PROOF');
    const garbage = await session.request(`${app.issuer}${login.path}/certificate/verify`, {
      method: 'POST',
      json: { jws: 'a.b.c' },
      headers: { 'x-csrf-token': login.csrf },
    });
    expect((await garbage.json()).code).toBe('ERR_CERT_MALFORMED');
    // The plain form (no script): a readable page with the way back to the sign-in page.
    const form = await session.request(`${app.issuer}${login.path}/certificate/verify`, {
      method: 'POST',
      form: { _csrf: login.csrf, jws: 'a.b.c' },
    });
    expect(form.status).toBe(401);
    const html = await form.text();
    expect(html).toContain(MESSAGES.ko['err.ERR_CERT_MALFORMED']);
    expect(html).toContain(`href="${login.path}"`);
  });
});

describe('refused certificates', () => {
  const rogue = async () => {
    const root = await createRootCa({ name: 'CN=Rogue Root CA, O=Elsewhere, C=KR' });
    const intermediate = await createIntermediateCa(root, {
      name: 'CN=Rogue Citizen CA, O=Elsewhere, C=KR',
    });
    return { leaf: await createLeaf(intermediate), chain: [intermediate, root] };
  };
  const cases: [
    string,
    string,
    () => Promise<{ leaf: Issued; chain?: Issued[]; x5c?: (leaf: Issued) => string[] }>,
  ][] = [
    ['expired', 'ERR_CERT_EXPIRED', async () => ({ leaf: await pki.citizen({ expired: true }) })],
    [
      'not_yet_valid',
      'ERR_CERT_NOT_YET_VALID',
      async () => ({ leaf: await pki.citizen({ notYetValid: true }) }),
    ],
    ['revoked', 'ERR_CERT_REVOKED', async () => ({ leaf: await pki.revoked() })],
    [
      'wrong_usage',
      'ERR_CERT_WRONG_USAGE',
      async () => ({ leaf: await pki.citizen({ eku: [OIDS.serverAuth] }) }),
    ],
    ['untrusted', 'ERR_CERT_UNTRUSTED', rogue],
    [
      'bad_signature',
      'ERR_CERT_BAD_SIGNATURE',
      async () => ({
        leaf: await pki.citizen(),
        x5c: (leaf) => [tamperSignature(leaf.der).toString('base64'), pki.intermediate.b64],
      }),
    ],
    [
      'missing_intermediate',
      'ERR_CERT_MISSING_INTERMEDIATE',
      // A chain that stops short: the sub-CA is sent, its issuer (the citizen CA) is not.
      async () => {
        const subCa = await createIntermediateCa(pki.intermediate, { name: 'CN=Sub CA, C=KR' });
        return { leaf: await createLeaf(subCa), chain: [subCa] };
      },
    ],
    // A leaf sent alone whose issuer is no anchor: not "send the whole chain".
    ['untrusted', 'ERR_CERT_UNTRUSTED', async () => ({ leaf: await pki.citizen(), chain: [] })],
    [
      'policy_mismatch',
      'ERR_CERT_POLICY_MISMATCH',
      async () => ({ leaf: await pki.citizen({ policies: ['1.2.3.4'] }) }),
    ],
  ];

  it.each(cases)('%s: JSON code, readable message and audit reason', async (reason, code, make) => {
    const { leaf, chain = [pki.intermediate], x5c } = await make();
    const session = createBrowserSession();
    const login = await openLogin(app, session, (await startRp(app)).request.url);
    const { res, body } = await challengeSignIn(
      app,
      session,
      login,
      leaf,
      chain,
      x5c ? { x5c: x5c(leaf) } : {},
    );
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toMatch(/json/);
    expect(body).toMatchObject({
      code,
      message: MESSAGES.ko[`err.${code}` as keyof typeof MESSAGES.ko],
    });
    expect(JSON.stringify(body)).not.toMatch(/\.ts:\d+|node_modules|at \S+ \(/);
    // The audit names the reason (the tampered certificate is audited under its own DER's hash).
    const fingerprint = x5c ? undefined : fingerprintOf(leaf);
    const rows = await auditRows(
      app,
      'auth.certificate.rejected',
      fingerprint ? { fingerprint, reason } : { reason, method: 'challenge' },
    );
    expect(rows[0]?.details).toMatchObject({ reason, method: 'challenge' });
  });
});
