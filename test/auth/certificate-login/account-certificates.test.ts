// A signed-in citizen adds certificates to their account on My One-ID's sign-in methods page
// (the login page's signed challenge, bound to the account), names them, and then signs in
// with them; a certificate whose holder already has another account is never linked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MESSAGES } from '../../../src/http/render/messages.ts';
import { startTestApp, type TestApp } from '../../support/app.ts';
import {
  createBrowserSession,
  csrfFrom,
  type BrowserSession,
} from '../../support/browser-session.ts';
import { enrolCitizen, passkeyVerify } from '../../support/flows.ts';
import type { Issued } from '../../support/pki.ts';
import {
  auditRows,
  certificateEnv,
  challengeSignIn,
  continueToClient,
  createTestPki,
  fingerprintOf,
  linkCertificate,
  openLogin,
  redeem,
  signChallenge,
  startRp,
  type TestPki,
} from './support.ts';

const SECURITY = '/account/security';

let pki: TestPki;
let app: TestApp;
let plain: TestApp;

beforeAll(async () => {
  pki = await createTestPki();
  [app, plain] = await Promise.all([startTestApp(certificateEnv(pki)), startTestApp()]);
});
afterAll(async () => {
  await Promise.all([app?.stop(), plain?.stop()]);
  await pki?.close();
});

type Citizen = Awaited<ReturnType<typeof enrolCitizen>>;

/** Signs in with the citizen's passkey and opens the sign-in methods page: its HTML and CSRF token. */
const openSecurity = async (
  target: TestApp,
  citizen: Citizen,
  session = createBrowserSession(),
) => {
  const first = await session.follow(`${target.issuer}${SECURITY}`, target.issuer);
  const interaction = new URL(first.url).pathname;
  const login = csrfFrom(await first.res.text());
  const verify = await passkeyVerify(
    session,
    `${target.issuer}${interaction}`,
    login,
    citizen.authenticator,
  );
  const landed = await session.follow(
    new URL((await verify.json()).location, target.issuer).toString(),
    target.issuer,
  );
  expect(new URL(landed.url).pathname).toBe(SECURITY);
  const html = await landed.res.text();
  return { session, html, csrf: csrfFrom(html) };
};

type Page = Awaited<ReturnType<typeof openSecurity>>;

/** A fresh challenge from the page's challenge route, asked for as the page's script does. */
const pageChallenge = async (page: Page) => {
  const challenge = await page.session.request(`${app.issuer}${SECURITY}/certificate/challenge`, {
    method: 'POST',
    json: {},
    headers: { 'x-csrf-token': page.csrf },
  });
  expect(challenge.status).toBe(200);
  return (await challenge.json()) as { nonce: string; audience: string };
};

/** A fresh challenge of the page signed by `leaf`, for One-ID's audience. */
const signedChallenge = async (page: Page, leaf: Issued) =>
  signChallenge({
    nonce: (await pageChallenge(page)).nonce,
    audience: app.issuer,
    leaf,
    chain: [pki.intermediate],
  });

/** Posts a signed challenge to the page's verify route (with the page's CSRF token). */
const postVerify = (page: Page, jws: string, query = '') =>
  page.session.request(`${app.issuer}${SECURITY}/certificate/verify${query}`, {
    method: 'POST',
    json: { jws },
    headers: { 'x-csrf-token': page.csrf },
  });

/** The page's challenge, signed by `leaf` (or the given nonce), posted to verify as the page's script does. */
const addCertificate = async (
  page: Page,
  leaf: Issued,
  sign: { nonce?: string; jws?: string } = {},
) => {
  const { nonce, audience } = await pageChallenge(page);
  const jws =
    sign.jws ??
    (await signChallenge({
      nonce: sign.nonce ?? nonce,
      audience,
      leaf,
      chain: [pki.intermediate],
    }));
  const res = await postVerify(page, jws);
  return {
    res,
    body: (await res.json()) as { location?: string; code?: string; message?: string },
    jws,
    nonce,
  };
};

/** Renames a certificate through the page's form. */
const rename = (page: Page, fingerprint: string, label: string) =>
  page.session.request(`${app.issuer}${SECURITY}/certificates/rename`, {
    method: 'POST',
    form: { _csrf: page.csrf, fingerprint, label },
  });

/** The name the citizen gave a certificate (null: none, the subject is shown). */
const labelOf = async (fingerprint: string) =>
  (await app.knex('account_certificates').where({ fingerprint }).first()).label;

const linkedTo = async (accountId: string) =>
  (
    await app.knex('account_certificates').where({ account_id: accountId }).orderBy('created_at')
  ).map((r: { fingerprint: string }) => r.fingerprint);

/** Moves the browser's sign-in `seconds` into the past (the One-ID session's loginTs). */
const ageSignIn = async (session: BrowserSession, seconds: number) => {
  const Session = app.provider().Session;
  const id = session.jar.get('oneid_session')!;
  const stored = (await Session.adapter.find(id)) as { loginTs: number; exp: number };
  expect(stored).toBeDefined();
  await Session.adapter.upsert(
    id,
    { ...stored, loginTs: stored.loginTs - seconds },
    stored.exp - Math.floor(Date.now() / 1000),
  );
};

describe('adding a certificate to an account', () => {
  it('links certificates to a passkey-only account, which then signs in with them at the login page', async () => {
    const citizen = await enrolCitizen(app, { name: '김추가', birthdate: '1985-05-05' });
    const page = await openSecurity(app, citizen);
    // The login page's signed-challenge section, bound to this page's routes.
    expect(page.html).toContain('id="certificate-login"');
    expect(page.html).toContain(`data-challenge-url="${SECURITY}/certificate/challenge"`);
    expect(page.html).toContain(`action="${SECURITY}/certificate/verify"`);
    expect(page.html).toMatch(/<label for="certificate-jws">/);

    const holder = `KR-${Date.now()}`;
    const first = await pki.citizen({ commonName: '김추가', subjectSerialNumber: holder });
    const added = await addCertificate(page, first);
    expect(added.res.status, JSON.stringify(added.body)).toBe(200);
    expect(added.body.location).toBe(`${SECURITY}?done=linked`);
    // A second certificate with a different holder id (another authority's numbering, say).
    const second = await pki.citizen({ commonName: '김추가' });
    expect((await addCertificate(page, second)).body.location).toBe(`${SECURITY}?done=linked`);
    expect(await linkedTo(citizen.account.id)).toEqual([
      fingerprintOf(first),
      fingerprintOf(second),
    ]);
    const [linked] = await auditRows(app, 'auth.certificate.linked', {
      fingerprint: fingerprintOf(second),
    });
    expect(linked).toMatchObject({
      actor: `account:${citizen.account.id}`,
      subject: `account:${citizen.account.id}`,
      details: { via: 'account', revocation: 'good' },
    });

    // Both are shown, on this page and on My One-ID.
    const done = await (await page.session.request(`${app.issuer}${added.body.location}`)).text();
    expect(done).toContain(MESSAGES.ko['recovery.done.linked']);
    expect(done.match(/class="consent-item certificate-item"/g)).toHaveLength(2);
    const mine = await (await page.session.request(`${app.issuer}/account`)).text();
    expect(mine).toContain('<h2 id="certificates">');
    expect(mine.match(/class="consent-item certificate-item"/g)).toHaveLength(2);
    expect(mine).toContain('href="/account/security"');

    // Signing in with either at the login page lands in the same account, at high.
    for (const leaf of [
      second,
      await pki.citizen({ commonName: '김추가', subjectSerialNumber: holder }),
    ]) {
      const rp = await startRp(app);
      const session = createBrowserSession();
      const login = await openLogin(app, session, rp.request.url);
      const { res, body } = await challengeSignIn(app, session, login, leaf, [pki.intermediate]);
      expect(res.status, JSON.stringify(body)).toBe(200);
      // No self-enrolment offered: the certificate (or, for the renewal, its holder id) is known.
      expect(body.location).not.toMatch(/enrol$/);
      expect((await redeem(rp, await continueToClient(app, session, body.location!))).acr).toBe(
        'urn:one-id:loa:high',
      );
      const [verified] = await auditRows(app, 'auth.certificate.verified', {
        fingerprint: fingerprintOf(leaf),
      });
      expect(verified!.actor).toBe(`account:${citizen.account.id}`);
    }
    // The renewal of the first certificate joined the account too.
    expect(await linkedTo(citizen.account.id)).toHaveLength(3);
  });

  it('says so, and changes nothing, for a certificate the account already holds', async () => {
    const citizen = await enrolCitizen(app);
    const leaf = await pki.citizen();
    await linkCertificate(app, citizen.account.id, leaf, [pki.intermediate]);
    const page = await openSecurity(app, citizen);
    const again = await addCertificate(page, leaf);
    expect(again.res.status).toBe(200);
    expect(again.body.location).toBe(`${SECURITY}?done=already-linked`);
    expect(
      await (await page.session.request(`${app.issuer}${again.body.location}`)).text(),
    ).toContain(MESSAGES.ko['recovery.done.already-linked']);
    expect(await linkedTo(citizen.account.id)).toEqual([fingerprintOf(leaf)]);
    expect(
      await auditRows(app, 'auth.certificate.linked', { fingerprint: fingerprintOf(leaf) }),
    ).toHaveLength(0);
  });

  it('refuses a certificate whose holder already has another account, links nothing and does not say which', async () => {
    const owner = await enrolCitizen(app, {
      name: '원래주인',
      email: `owner-${Date.now()}@example.kr`,
    });
    const holder = `KR-owner-${Date.now()}`;
    const owned = await pki.citizen({ commonName: '원래주인', subjectSerialNumber: holder });
    await linkCertificate(app, owner.account.id, owned, [pki.intermediate]);

    const citizen = await enrolCitizen(app, { name: '다른사람' });
    const page = await openSecurity(app, citizen);
    // The very certificate linked elsewhere, and a renewal of it (same holder id, new key).
    for (const leaf of [
      owned,
      await pki.citizen({ commonName: '원래주인', subjectSerialNumber: holder }),
    ]) {
      const { res, body } = await addCertificate(page, leaf);
      expect(res.status).toBe(409);
      expect(body).toMatchObject({
        code: 'ERR_CERT_LINKED_ELSEWHERE',
        message: MESSAGES.ko['err.ERR_CERT_LINKED_ELSEWHERE'],
      });
      const said = JSON.stringify(body);
      for (const secret of [owner.account.id, '원래주인', owner.account.email!])
        expect(said).not.toContain(secret);
      const [refused] = await auditRows(app, 'auth.certificate.link_refused', {
        fingerprint: fingerprintOf(leaf),
      });
      expect(refused).toMatchObject({
        actor: `account:${citizen.account.id}`,
        details: { reason: 'linked_elsewhere', via: 'account' },
      });
      expect(JSON.stringify(refused)).not.toContain(owner.account.id);
    }
    expect(await linkedTo(citizen.account.id)).toEqual([]);
    expect(await linkedTo(owner.account.id)).toEqual([fingerprintOf(owned)]);
    // In English too.
    const en = await postVerify(page, await signedChallenge(page, owned), '?lang=en');
    expect(en.status).toBe(409);
    expect((await en.json()).message).toBe(MESSAGES.en['err.ERR_CERT_LINKED_ELSEWHERE']);
    expect(await linkedTo(citizen.account.id)).toEqual([]);
  });

  it('refuses a replayed signature, and a nonce issued to another account or to a login page', async () => {
    const citizen = await enrolCitizen(app);
    const page = await openSecurity(app, citizen);
    const leaf = await pki.citizen();
    const ok = await addCertificate(page, leaf);
    expect(ok.body.location).toBe(`${SECURITY}?done=linked`);
    const replay = await postVerify(page, ok.jws);
    expect(replay.status).toBe(401);
    expect(await replay.json()).toMatchObject({
      code: 'ERR_CERT_REPLAYED',
      message: MESSAGES.ko['err.ERR_CERT_REPLAYED'],
    });

    // Another citizen's nonce, signed with this citizen's new certificate.
    const other = await openSecurity(app, await enrolCitizen(app));
    const theirs = await pageChallenge(other);
    const fresh = await pki.citizen();
    const stolen = await addCertificate(page, fresh, { nonce: theirs.nonce });
    expect(stolen.body.code).toBe('ERR_CERT_REPLAYED');
    // A login page's nonce is not an account's either.
    const browser = createBrowserSession();
    const login = await openLogin(app, browser, (await startRp(app)).request.url);
    const issued = (await (
      await browser.request(`${app.issuer}${login.path}/certificate/challenge`, {
        method: 'POST',
        json: {},
        headers: { 'x-csrf-token': login.csrf },
      })
    ).json()) as { nonce: string };
    expect((await addCertificate(page, fresh, { nonce: issued.nonce })).body.code).toBe(
      'ERR_CERT_REPLAYED',
    );
    expect(await linkedTo(citizen.account.id)).toEqual([fingerprintOf(leaf)]);
    const refused = await auditRows(app, 'auth.certificate.link_refused', {
      fingerprint: fingerprintOf(fresh),
    });
    expect(refused.map((r) => r.details.reason)).toEqual(['replayed', 'replayed']);
    expect(
      (
        await auditRows(app, 'auth.certificate.link_refused', { fingerprint: fingerprintOf(leaf) })
      ).map((r) => r.details.reason),
    ).toEqual(['replayed']);
  });

  it("refuses a broken proof: another key's signature, a revoked certificate", async () => {
    const citizen = await enrolCitizen(app);
    const page = await openSecurity(app, citizen);
    const leaf = await pki.citizen();
    const impostor = await pki.citizen();
    const challenge = await pageChallenge(page);
    const forged = await signChallenge({
      nonce: challenge.nonce,
      audience: app.issuer,
      leaf,
      chain: [pki.intermediate],
      key: impostor.keys.privateKey,
    });
    expect((await addCertificate(page, leaf, { jws: forged })).body.code).toBe('ERR_CERT_NO_PROOF');
    const revoked = await pki.revoked();
    expect((await addCertificate(page, revoked)).body.code).toBe('ERR_CERT_REVOKED');
    expect(await linkedTo(citizen.account.id)).toEqual([]);
  });
});

describe('renaming a certificate', () => {
  it('names a certificate (shown instead of the subject, which stays as secondary text), audited; empty goes back to the subject', async () => {
    const citizen = await enrolCitizen(app);
    const leaf = await pki.citizen({ commonName: '이름바꿈' });
    await linkCertificate(app, citizen.account.id, leaf, [pki.intermediate]);
    const fingerprint = fingerprintOf(leaf);
    const page = await openSecurity(app, citizen);
    expect(page.html).toContain(`<label for="cert-label-${fingerprint.slice(0, 12)}">`);
    const label = '  은행에서 받은 인증서  ';
    const res = await rename(page, fingerprint, label);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`${SECURITY}?done=renamed`);
    expect(await labelOf(fingerprint)).toBe('은행에서 받은 인증서');
    const [renamed] = await auditRows(app, 'auth.certificate.renamed', { fingerprint });
    expect(renamed).toMatchObject({
      actor: `account:${citizen.account.id}`,
      subject: `account:${citizen.account.id}`,
      details: { label: '은행에서 받은 인증서' },
    });

    const shown = await (
      await page.session.request(`${app.issuer}${SECURITY}?done=renamed`)
    ).text();
    expect(shown).toContain(MESSAGES.ko['recovery.done.renamed']);
    expect(shown).toContain(
      `<strong id="cert-${fingerprint.slice(0, 12)}">은행에서 받은 인증서</strong>`,
    );
    expect(shown).toMatch(/class="meta certificate-subject">[^<]*이름바꿈/);
    const mine = await (await page.session.request(`${app.issuer}/account`)).text();
    expect(mine).toContain('<strong>은행에서 받은 인증서</strong>');

    // Too long (61 characters): refused, unchanged.
    const long = await rename(page, fingerprint, '가'.repeat(61));
    expect(long.status).toBe(400);
    expect(await long.text()).toContain(MESSAGES.ko['err.ERR_CERTIFICATE_LABEL']);
    // Exactly 60 is fine.
    expect((await rename(page, fingerprint, '가'.repeat(60))).status).toBe(303);
    // Someone else's certificate: not found.
    const stranger = await pki.citizen();
    await linkCertificate(app, (await enrolCitizen(app)).account.id, stranger, [pki.intermediate]);
    const foreign = await rename(page, fingerprintOf(stranger), '내 것');
    expect(foreign.status).toBe(404);
    expect(await labelOf(fingerprintOf(stranger))).toBeNull();

    // Empty: back to the subject.
    await rename(page, fingerprint, '   ');
    expect(await labelOf(fingerprint)).toBeNull();
    const back = await (await page.session.request(`${app.issuer}${SECURITY}`)).text();
    expect(back).toMatch(new RegExp(`<strong id="cert-${fingerprint.slice(0, 12)}">[^<]*이름바꿈`));
    expect(back).not.toContain('certificate-subject');
  });
});

describe('what guards the changes', () => {
  it('refuses a missing CSRF token', async () => {
    const citizen = await enrolCitizen(app);
    const leaf = await pki.citizen();
    await linkCertificate(app, citizen.account.id, leaf, [pki.intermediate]);
    const page = await openSecurity(app, citizen);
    const challenge = await page.session.request(`${app.issuer}${SECURITY}/certificate/challenge`, {
      method: 'POST',
      json: {},
    });
    expect(challenge.status).toBe(403);
    const jws = await signedChallenge(page, await pki.citizen());
    const verify = await page.session.request(`${app.issuer}${SECURITY}/certificate/verify`, {
      method: 'POST',
      json: { jws },
    });
    expect(verify.status).toBe(403);
    expect((await verify.json()).code).toBe('ERR_CSRF');
    const rename = await page.session.request(`${app.issuer}${SECURITY}/certificates/rename`, {
      method: 'POST',
      form: { fingerprint: fingerprintOf(leaf), label: '바꿈' },
    });
    expect(rename.status).toBe(403);
    expect(await linkedTo(citizen.account.id)).toEqual([fingerprintOf(leaf)]);
    expect(await labelOf(fingerprintOf(leaf))).toBeNull();
    // The nonce was not spent by the forged request: the real page can still use it.
    const real = await postVerify(page, jws);
    expect((await real.json()).location).toBe(`${SECURITY}?done=linked`);
  });

  it("needs a sign-in within the last 10 minutes (401 for the page's requests)", async () => {
    const citizen = await enrolCitizen(app);
    const leaf = await pki.citizen();
    await linkCertificate(app, citizen.account.id, leaf, [pki.intermediate]);
    const page = await openSecurity(app, citizen);
    const jws = await signedChallenge(page, await pki.citizen());
    await ageSignIn(page.session, 11 * 60);
    for (const [path, body] of [
      ['/certificate/challenge', {}],
      ['/certificate/verify', { jws }],
      ['/certificates/rename', { fingerprint: fingerprintOf(leaf), label: '늦음' }],
    ] as const) {
      const res = await page.session.request(`${app.issuer}${SECURITY}${path}`, {
        method: 'POST',
        json: body,
        headers: { 'x-csrf-token': page.csrf },
      });
      expect(res.status, path).toBe(401);
      // The security page asks for a fresh passkey or certificate sign-in (recovery is the page
      // that needs a certificate).
      expect(await res.json()).toMatchObject({
        code: 'ERR_SECURITY_SIGN_IN_REQUIRED',
        message: '로그인 수단을 관리하려면 패스키나 인증서로 다시 로그인해 주세요.',
      });
    }
    // Still signed in (My One-ID opens), but the page itself asks for a fresh sign-in.
    expect((await page.session.request(`${app.issuer}/account`)).status).toBe(200);
    const stale = await page.session.request(`${app.issuer}${SECURITY}`);
    expect(stale.status).toBe(302);
    expect(new URL(stale.headers.get('location')!).searchParams.get('max_age')).toBe('0');
    expect(await linkedTo(citizen.account.id)).toEqual([fingerprintOf(leaf)]);
    expect(await labelOf(fingerprintOf(leaf))).toBeNull();
  });

  it('offers no certificate section or routes when certificate login is off', async () => {
    const citizen = await enrolCitizen(plain);
    const page = await openSecurity(plain, citizen);
    expect(page.html).not.toContain('id="certificate-login"');
    const res = await page.session.request(`${plain.issuer}${SECURITY}/certificate/challenge`, {
      method: 'POST',
      json: {},
      headers: { 'x-csrf-token': page.csrf },
    });
    expect(res.status).toBe(404);
    const mine = await (await page.session.request(`${plain.issuer}/account`)).text();
    expect(mine).not.toContain('id="certificates"');
  });
});
