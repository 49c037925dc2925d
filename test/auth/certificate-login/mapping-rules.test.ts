// CERT_MAPPING_RULE over real HTTP: under san-email a renewed certificate (new key, new serial,
// same address, same anchor) reaches the same account while the same address vouched for by
// another trust anchor does not, and a certificate without an address is refused; under
// issuer-serial a renewal is a new certificate. Unlinking on /account/security removes the
// certificate as a way in, but never the last one.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MESSAGES } from '../../../src/http/render/messages.ts';
import { startTestApp, type TestApp } from '../../support/app.ts';
import {
  createBrowserSession,
  csrfFrom,
  type BrowserSession,
} from '../../support/browser-session.ts';
import { enrolCitizen } from '../../support/flows.ts';
import {
  createCrl,
  createIntermediateCa,
  createLeaf,
  createRootCa,
  type Issued,
  type LeafOptions,
} from '../../support/pki.ts';
import {
  POLICY,
  auditRows,
  certificateEnv,
  challengeSignIn,
  continueToClient,
  createTestPki,
  fingerprintOf,
  linkCertificate,
  openLogin,
  redeem,
  startRp,
  type Interaction,
  type TestPki,
} from './support.ts';

const SECURITY = '/account/security';

let pki: TestPki;
/** A second, independent hierarchy (its own root DN), trusted alongside the first. */
let other: {
  root: Issued;
  intermediate: Issued;
  citizen: (options?: LeafOptions) => Promise<Issued>;
};
let sanApp: TestApp;
let serialApp: TestApp;

beforeAll(async () => {
  pki = await createTestPki();
  const root = await createRootCa({ name: 'CN=Other Root CA, O=Other Authority, C=KR' });
  const intermediate = await createIntermediateCa(root, {
    name: 'CN=Other Citizen CA, O=Other Authority, C=KR',
    crlUrl: `${pki.server.url}/other-root.crl`,
  });
  pki.server.serveCrl('/other-root.crl', await createCrl(root));
  pki.server.serveCrl('/other-ca.crl', await createCrl(intermediate));
  other = {
    root,
    intermediate,
    citizen: (options = {}) =>
      createLeaf(intermediate, {
        crlUrl: `${pki.server.url}/other-ca.crl`,
        policies: [POLICY],
        ...options,
      }),
  };
  const bundle = join(pki.dir, 'two-anchors.pem');
  writeFileSync(bundle, `${pki.root.pem}\n${root.pem}\n`);
  [sanApp, serialApp] = await Promise.all([
    startTestApp(
      certificateEnv(pki, { CERT_TRUST_ANCHORS: bundle, CERT_MAPPING_RULE: 'san-email' }),
    ),
    startTestApp(certificateEnv(pki, { CERT_MAPPING_RULE: 'issuer-serial' })),
  ]);
});
afterAll(async () => {
  await Promise.all([sanApp?.stop(), serialApp?.stop()]);
  await pki?.close();
});

const accountOf = async (app: TestApp, leaf: Issued) =>
  (
    (await app
      .knex('account_certificates')
      .where({ fingerprint: fingerprintOf(leaf) })
      .first()) as { account_id: string } | undefined
  )?.account_id;

/** Completes the self-enrolment page the verify answer pointed at; returns where it leads. */
const completeEnrolment = async (app: TestApp, session: BrowserSession, location: string) => {
  const page = await session.request(`${app.issuer}${location}`);
  expect(page.status).toBe(200);
  const done = await session.request(`${app.issuer}${location}`, {
    method: 'POST',
    form: { _csrf: csrfFrom(await page.text()) },
  });
  expect(done.status).toBe(303);
  return done.headers.get('location')!;
};

/** One certificate sign-in at a relying party's login page: the verify answer, unfollowed. */
const attempt = async (app: TestApp, leaf: Issued, chain: Issued[]) => {
  const rp = await startRp(app);
  const session = createBrowserSession();
  const login = await openLogin(app, session, rp.request.url);
  const { res, body } = await challengeSignIn(app, session, login, leaf, chain);
  return { rp, session, login, res, body };
};

/** Signs in (self-enrolling when offered) at a fresh RP; returns whether enrolment was offered (`sub` is pairwise per RP, so accounts are compared in the database). */
const signIn = async (app: TestApp, leaf: Issued, chain: Issued[]) => {
  const { rp, session, res, body } = await attempt(app, leaf, chain);
  expect(res.status, JSON.stringify(body)).toBe(200);
  const enrolled = body.location!.endsWith('/certificate/enrol');
  const next = enrolled ? await completeEnrolment(app, session, body.location!) : body.location!;
  expect((await redeem(rp, await continueToClient(app, session, next))).acr).toBe(
    'urn:one-id:loa:high',
  );
  return { enrolled };
};

describe('CERT_MAPPING_RULE=san-email', () => {
  it('a renewed certificate with the same address and anchor signs in to the same account', async () => {
    const email = `Renew-${Date.now()}@Example.KR`;
    const first = await pki.citizen({ commonName: '김메일', birthdate: '1981-01-01', email });
    const enrolled = await signIn(sanApp, first, [pki.intermediate]);
    expect(enrolled.enrolled).toBe(true);
    const account = await accountOf(sanApp, first);
    expect(account).toBeDefined();

    // New key, new serial, a different holder id even: the address (case aside) is what maps.
    const renewed = await pki.citizen({
      commonName: '김메일',
      birthdate: '1981-01-01',
      email: email.toLowerCase(),
    });
    expect(renewed.cert.serialNumber).not.toBe(first.cert.serialNumber);
    const again = await signIn(sanApp, renewed, [pki.intermediate]);
    expect(again.enrolled).toBe(false);
    expect(await accountOf(sanApp, renewed)).toBe(account);
    const [linked] = await auditRows(sanApp, 'auth.certificate.linked', {
      fingerprint: fingerprintOf(renewed),
    });
    expect(linked).toMatchObject({ actor: `account:${account}`, details: { via: 'renewal' } });
  });

  it('the same address from another trust anchor does not reach that account: self-enrolment is offered instead', async () => {
    const email = `anchor-${Date.now()}@example.kr`;
    const mine = await pki.citizen({ commonName: '박앵커', birthdate: '1982-02-02', email });
    await signIn(sanApp, mine, [pki.intermediate]);
    const account = await accountOf(sanApp, mine);

    const foreign = await other.citizen({ commonName: '박앵커', birthdate: '1982-02-02', email });
    const { res, body } = await attempt(sanApp, foreign, [other.intermediate]);
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.location).toMatch(/\/certificate\/enrol$/);
    const [verified] = await auditRows(sanApp, 'auth.certificate.verified', {
      fingerprint: fingerprintOf(foreign),
    });
    expect(verified).toMatchObject({
      actor: 'anonymous',
      details: { account: null, enrolment: 'offered' },
    });
    expect(await accountOf(sanApp, foreign)).toBeUndefined();
    // Going through with it makes a separate account; the first one holds only its own certificate.
    expect((await signIn(sanApp, foreign, [other.intermediate])).enrolled).toBe(true);
    expect(await accountOf(sanApp, foreign)).toEqual(expect.any(String));
    expect(await accountOf(sanApp, foreign)).not.toBe(account);
    expect(
      (await sanApp.knex('account_certificates').where({ account_id: account })).map(
        (r: { fingerprint: string }) => r.fingerprint,
      ),
    ).toEqual([fingerprintOf(mine)]);
  });

  it('refuses a certificate without a SAN email as malformed, with a readable message, creating nothing', async () => {
    const leaf = await pki.citizen({ commonName: '이없음' });
    const { res, body } = await attempt(sanApp, leaf, [pki.intermediate]);
    expect(res.status).toBe(401);
    expect(body).toMatchObject({
      code: 'ERR_CERT_MALFORMED',
      message: MESSAGES.ko['err.ERR_CERT_MALFORMED'],
    });
    expect(JSON.stringify(body)).not.toMatch(/\.ts:\d+|node_modules|at \S+ \(/);
    const [row] = await auditRows(sanApp, 'auth.certificate.rejected', {
      fingerprint: fingerprintOf(leaf),
    });
    expect(row!.details).toMatchObject({ reason: 'malformed', method: 'challenge' });
    expect(await accountOf(sanApp, leaf)).toBeUndefined();
  });
});

describe('CERT_MAPPING_RULE=issuer-serial', () => {
  it('a renewed certificate is not the same account: self-enrolment is offered again', async () => {
    const holder = `KR-serial-${Date.now()}`;
    const email = `serial-${Date.now()}@example.kr`;
    const first = await pki.citizen({
      commonName: '최일련',
      birthdate: '1983-03-03',
      subjectSerialNumber: holder,
      email,
    });
    const enrolled = await signIn(serialApp, first, [pki.intermediate]);
    expect(enrolled.enrolled).toBe(true);
    // The same certificate again: straight in.
    expect((await signIn(serialApp, first, [pki.intermediate])).enrolled).toBe(false);

    const renewed = await pki.citizen({
      commonName: '최일련',
      birthdate: '1983-03-03',
      subjectSerialNumber: holder,
      email,
    });
    const { res, body } = await attempt(serialApp, renewed, [pki.intermediate]);
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.location).toMatch(/\/certificate\/enrol$/);
    expect(await accountOf(serialApp, renewed)).toBeUndefined();
    expect(
      await auditRows(serialApp, 'auth.certificate.linked', {
        fingerprint: fingerprintOf(renewed),
      }),
    ).toHaveLength(0);
  });
});

describe('unlinking a certificate on /account/security', () => {
  type Page = { session: BrowserSession; html: string; csrf: string };

  /** Follows the sign-in outcome back to /account/security: its HTML and CSRF token. */
  const landOnSecurity = async (
    app: TestApp,
    session: BrowserSession,
    location: string,
  ): Promise<Page> => {
    const landed = await session.follow(new URL(location, app.issuer).toString(), app.issuer);
    expect(new URL(landed.url).pathname).toBe(SECURITY);
    const html = await landed.res.text();
    return { session, html, csrf: csrfFrom(html) };
  };

  const securityLogin = async (app: TestApp, session: BrowserSession): Promise<Interaction> => {
    const first = await session.follow(`${app.issuer}${SECURITY}`, app.issuer);
    const html = await first.res.text();
    return { path: new URL(first.url).pathname, url: first.url, csrf: csrfFrom(html), html };
  };

  const removeForm = (fingerprint: string) =>
    new RegExp(
      `action="${SECURITY}/certificates/remove"[^]*?name="fingerprint" value="${fingerprint}"`,
    );

  it('removes the certificate, audited, and it no longer signs in to the account', async () => {
    const citizen = await enrolCitizen(sanApp, { name: '정해제' });
    const leaf = await pki.citizen({
      commonName: '정해제',
      email: `unlink-${Date.now()}@example.kr`,
    });
    await linkCertificate(sanApp, citizen.account.id, leaf, [pki.intermediate]);
    const fingerprint = fingerprintOf(leaf);

    // A recent sign-in with the passkey.
    const session = createBrowserSession();
    const login = await securityLogin(sanApp, session);
    const options = await (
      await session.request(`${sanApp.issuer}${login.path}/passkey/options`, {
        method: 'POST',
        json: {},
        headers: { 'x-csrf-token': login.csrf },
      })
    ).json();
    const verify = await session.request(`${sanApp.issuer}${login.path}/passkey/verify`, {
      method: 'POST',
      json: citizen.authenticator.authenticate(options),
      headers: { 'x-csrf-token': login.csrf },
    });
    const page = await landOnSecurity(sanApp, session, (await verify.json()).location);
    expect(page.html).toMatch(removeForm(fingerprint));

    // Without the CSRF token: refused, nothing removed.
    const forged = await session.request(`${sanApp.issuer}${SECURITY}/certificates/remove`, {
      method: 'POST',
      form: { fingerprint },
    });
    expect(forged.status).toBe(403);
    expect(await accountOf(sanApp, leaf)).toBe(citizen.account.id);

    const res = await session.request(`${sanApp.issuer}${SECURITY}/certificates/remove`, {
      method: 'POST',
      form: { _csrf: page.csrf, fingerprint },
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`${SECURITY}?done=unlinked`);
    expect(await accountOf(sanApp, leaf)).toBeUndefined();
    const [unlinked] = await auditRows(sanApp, 'auth.certificate.unlinked', { fingerprint });
    expect(unlinked).toMatchObject({
      actor: `account:${citizen.account.id}`,
      subject: `account:${citizen.account.id}`,
    });
    const after = await (await session.request(`${sanApp.issuer}${SECURITY}?done=unlinked`)).text();
    expect(after).not.toContain(`data-fingerprint="${fingerprint}"`);

    // Signing in with it now: an unknown certificate (self-enrolment offered), not this account.
    const { res: signIn, body } = await attempt(sanApp, leaf, [pki.intermediate]);
    expect(signIn.status, JSON.stringify(body)).toBe(200);
    expect(body.location).toMatch(/\/certificate\/enrol$/);
    const [verified] = await auditRows(sanApp, 'auth.certificate.verified', { fingerprint });
    expect(verified!.actor).toBe('anonymous');
  });

  it('does not remove the last way in: no form offered, and the POST is refused with a readable error', async () => {
    // A certificate-only account: self-enrolled at the page's own sign-in.
    const leaf = await pki.citizen({
      commonName: '한마지막',
      birthdate: '1984-04-04',
      email: `last-${Date.now()}@example.kr`,
    });
    const session = createBrowserSession();
    const login = await securityLogin(sanApp, session);
    const { res, body } = await challengeSignIn(sanApp, session, login, leaf, [pki.intermediate]);
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.location).toMatch(/\/certificate\/enrol$/);
    const page = await landOnSecurity(
      sanApp,
      session,
      await completeEnrolment(sanApp, session, body.location!),
    );
    const account = await accountOf(sanApp, leaf);
    expect(account).toBeDefined();
    const fingerprint = fingerprintOf(leaf);
    expect(page.html).toContain(`data-fingerprint="${fingerprint}"`);
    expect(page.html).not.toContain(`action="${SECURITY}/certificates/remove"`);

    const refused = await session.request(`${sanApp.issuer}${SECURITY}/certificates/remove`, {
      method: 'POST',
      form: { _csrf: page.csrf, fingerprint },
    });
    expect(refused.status).toBe(409);
    const html = await refused.text();
    expect(html).toContain(MESSAGES.ko['err.ERR_LAST_SIGN_IN_METHOD']);
    expect(html).not.toMatch(/\.ts:\d+|node_modules|at \S+ \(/);
    expect(await accountOf(sanApp, leaf)).toBe(account);
    expect(await auditRows(sanApp, 'auth.certificate.unlinked', { fingerprint })).toHaveLength(0);
    // In English too.
    const en = await session.request(`${sanApp.issuer}${SECURITY}/certificates/remove?lang=en`, {
      method: 'POST',
      form: { _csrf: page.csrf, fingerprint },
    });
    expect(en.status).toBe(409);
    expect(await en.text()).toContain(MESSAGES.en['err.ERR_LAST_SIGN_IN_METHOD']);
  });
});
