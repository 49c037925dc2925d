// One-ID's own single-use artefacts, each presented five times at once (the engine's codes,
// refresh tokens and request_uris are test/oidc/single-use.test.ts): a passkey sign-in
// challenge, an enrolment link and its registration challenge, the registration challenge of
// My One-ID's sign-in methods page, a certificate's signed nonce, the certificate awaiting
// self-enrolment, the mutual-TLS ticket and its outcome, and a dynamic registration's rotated
// access token (RFC 7592). Exactly one use wins; the others are refused with a 4xx, never a 500.
// What makes each atomic: the KV store's take (Redis GETDEL; the in-process map reads and deletes
// with no await between), for enrolment links UPDATE ... WHERE used_at IS NULL (PostgreSQL
// re-checks it after waiting for the row lock), for registration access tokens a DELETE whose
// row count says who deleted it. Where a take happens inside a database transaction, the embedded
// backend is atomic anyway (its PGlite server runs one transaction at a time): those tests can
// fail only on PostgreSQL.
import { randomBytes } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPrincipal } from '../../src/admin/index.ts';
import { freePort, startTestApp, type TestApp } from '../support/app.ts';
import { createBrowserSession, csrfFrom, type BrowserSession } from '../support/browser-session.ts';
import { enrolCitizen } from '../support/flows.ts';
import type { Issued } from '../support/pki.ts';
import { createSoftAuthenticator } from '../support/soft-authenticator.ts';
import {
  auditRows,
  certificateEnv,
  challengeSignIn,
  createTestPki,
  fingerprintOf,
  linkCertificate,
  openLogin,
  privateKeyPem,
  signChallenge,
  startRp,
  type TestPki,
} from '../auth/certificate-login/support.ts';

let pki: TestPki;
let app: TestApp;
let loginPort: number;

beforeAll(async () => {
  pki = await createTestPki();
  const { certPath, keyPath } = await pki.serverFiles();
  loginPort = await freePort();
  app = await startTestApp(
    certificateEnv(pki, {
      CERT_LOGIN_PORT: String(loginPort),
      TLS_CERT: certPath,
      TLS_KEY: keyPath,
      // Every request here comes from 127.0.0.1: the per-address limits are not under test.
      RATE_LIMIT_SIGNIN_PER_MINUTE: '10000',
      RATE_LIMIT_ENROLMENT_PER_MINUTE: '10000',
      RATE_LIMIT_ACCOUNT_PER_MINUTE: '10000',
      DCR_ENABLED: 'true',
    }),
  );
});
afterAll(async () => {
  await app?.stop();
  await pki?.close();
});

const FIVE = 5;
/** Five calls started in the same tick. */
const atOnce = <T>(call: (i: number) => Promise<T>) =>
  Promise.all(Array.from({ length: FIVE }, (_, i) => call(i)));

/** The winning responses (`won`: 200 by default) and the others' statuses and codes (from problem+json, or a page's <code>). */
const tally = async (
  responses: Response[],
  won: (status: number) => boolean = (s) => s === 200,
) => {
  const refusals = await Promise.all(
    responses
      .filter((r) => !won(r.status))
      .map(async (r) => {
        const text = await r.text();
        const code = /json/.test(r.headers.get('content-type') ?? '')
          ? (JSON.parse(text) as { code?: string }).code
          : /<code>([\w]+)<\/code>/.exec(text)?.[1];
        return { status: r.status, code };
      }),
  );
  return { winners: responses.filter((r) => won(r.status)), refusals };
};
const clientErrors = (refusals: { status: number }[]) =>
  refusals.every((r) => r.status >= 400 && r.status < 500);

const json = (csrf: string, body: unknown) => ({
  method: 'POST',
  json: body,
  headers: { 'x-csrf-token': csrf },
});

describe('the KV store take (every challenge, nonce and ticket below)', () => {
  it('hands a stored value to exactly one of five takers', async () => {
    const key = `test:replay:${randomBytes(8).toString('hex')}`;
    await app.kv.set(key, 'once', 60);
    const taken = await atOnce(() => app.kv.take(key));
    expect(taken.filter((v) => v === 'once')).toHaveLength(1);
    expect(taken.filter((v) => v === null)).toHaveLength(FIVE - 1);
  });
});

describe('passkeys under concurrent replay', () => {
  it('signs in once when the same assertion is posted five times at once', async () => {
    const citizen = await enrolCitizen(app);
    const session = createBrowserSession();
    const login = await openLogin(app, session, (await startRp(app)).request.url);
    const options = await (
      await session.request(`${app.issuer}${login.path}/passkey/options`, json(login.csrf, {}))
    ).json();
    // Synced passkeys report a signature counter of 0 every time, so the stored counter cannot tell
    // a replay apart: the challenge is the only thing used up.
    const [credential] = citizen.authenticator.credentials;
    const assertion = citizen.authenticator.authenticate(options, { ...credential!, counter: -1 });
    const responses = await atOnce(() =>
      session.request(`${app.issuer}${login.path}/passkey/verify`, json(login.csrf, assertion)),
    );
    const { winners, refusals } = await tally(responses);
    expect(winners).toHaveLength(1);
    expect(refusals.map((r) => r.code)).toEqual(
      Array(FIVE - 1).fill('ERR_PASSKEY_VERIFICATION_FAILED'),
    );
    expect(
      (await auditRows(app, 'auth.passkey.verified')).filter(
        (r) => r.subject === `account:${citizen.account.id}`,
      ),
    ).toHaveLength(1);
  });
});

/** An enrolment link opened in a browser, with the registration options it offers. */
const openEnrolment = async () => {
  const { account, url } = await app.services.accounts.enrolCitizen(
    { name: '동시등록', birthdate: '1990-01-01' },
    'test',
  );
  const session = createBrowserSession();
  const csrf = csrfFrom(await (await session.request(url)).text());
  const options = await (await session.request(`${url}/options`, json(csrf, {}))).json();
  return {
    account,
    options,
    verify: (response: unknown) => session.request(`${url}/verify`, json(csrf, response)),
  };
};

describe('enrolment links under concurrent use', () => {
  it('creates one passkey when five passkeys are registered through one link at once', async () => {
    const { account, options, verify } = await openEnrolment();
    const responses = Array.from({ length: FIVE }, () =>
      createSoftAuthenticator({ origin: app.issuer }).register(options),
    );
    const { winners, refusals } = await tally(await atOnce((i) => verify(responses[i])));
    expect(winners).toHaveLength(1);
    expect(clientErrors(refusals)).toBe(true);
    const stored = await app.services.passkeys.listForAccount(account.id);
    expect(stored).toHaveLength(1);
    expect(responses.map((r) => r.id)).toContain(stored[0]!.id);
    expect(
      await app.knex('enrolment_links').where({ account_id: account.id }).whereNotNull('used_at'),
    ).toHaveLength(1);
  });

  it('stores one credential when the same registration is posted five times at once', async () => {
    const { account, options, verify } = await openEnrolment();
    const response = createSoftAuthenticator({ origin: app.issuer }).register(options);
    const { winners, refusals } = await tally(await atOnce(() => verify(response)));
    expect(winners).toHaveLength(1);
    expect(clientErrors(refusals)).toBe(true);
    expect(await app.services.passkeys.listForAccount(account.id)).toHaveLength(1);
  });
});

/** Signs in to My One-ID's sign-in methods page (passkey); returns its CSRF token. */
const openSecurityPage = async (
  session: BrowserSession,
  citizen: Awaited<ReturnType<typeof enrolCitizen>>,
) => {
  const { res, url } = await session.follow(`${app.issuer}/account/security`, app.issuer);
  const interaction = new URL(url).pathname;
  const csrf = csrfFrom(await res.text());
  const options = await (
    await session.request(`${app.issuer}${interaction}/passkey/options`, json(csrf, {}))
  ).json();
  const verify = await session.request(
    `${app.issuer}${interaction}/passkey/verify`,
    json(csrf, citizen.authenticator.authenticate(options)),
  );
  const page = await session.follow(
    new URL((await verify.json()).location, app.issuer).toString(),
    app.issuer,
  );
  expect(new URL(page.url).pathname).toBe('/account/security');
  return csrfFrom(await page.res.text());
};

describe('adding and removing passkeys (My One-ID, the recovery pages) under concurrency', () => {
  it('adds one passkey when five are registered against one challenge at once, or one is posted five times', async () => {
    const citizen = await enrolCitizen(app);
    const session = createBrowserSession();
    const csrf = await openSecurityPage(session, citizen);
    const register = async () =>
      (
        await session.request(`${app.issuer}/account/security/passkey/options`, json(csrf, {}))
      ).json();
    const post = (response: unknown) =>
      session.request(`${app.issuer}/account/security/passkey/verify`, json(csrf, response));

    const options = await register();
    const different = Array.from({ length: FIVE }, () =>
      createSoftAuthenticator({ origin: app.issuer }).register(options),
    );
    const first = await tally(await atOnce((i) => post(different[i])));
    expect(first.winners).toHaveLength(1);
    expect(first.refusals.map((r) => r.code)).toEqual(
      Array(FIVE - 1).fill('ERR_PASSKEY_VERIFICATION_FAILED'),
    );
    expect(await app.services.passkeys.listForAccount(citizen.account.id)).toHaveLength(2);

    const same = createSoftAuthenticator({ origin: app.issuer }).register(await register());
    const second = await tally(await atOnce(() => post(same)));
    expect(second.winners).toHaveLength(1);
    expect(second.refusals.map((r) => r.code)).toEqual(
      Array(FIVE - 1).fill('ERR_PASSKEY_VERIFICATION_FAILED'),
    );
    expect(await app.services.passkeys.listForAccount(citizen.account.id)).toHaveLength(3);
  });

  it('keeps the last way in when two passkeys are removed at once', async () => {
    const citizen = await enrolCitizen(app);
    const session = createBrowserSession();
    const csrf = await openSecurityPage(session, citizen);
    const options = await (
      await session.request(`${app.issuer}/account/security/passkey/options`, json(csrf, {}))
    ).json();
    expect(
      (
        await session.request(
          `${app.issuer}/account/security/passkey/verify`,
          json(csrf, citizen.authenticator.register(options)),
        )
      ).status,
    ).toBe(200);
    const ids = (await app.services.passkeys.listForAccount(citizen.account.id)).map((c) => c.id);
    expect(ids).toHaveLength(2);
    // No certificate is linked: whichever removal comes second would remove the only way in. (The
    // account row lock serialises them; on the embedded backend transactions never overlap.)
    const responses = await atOnce((i) =>
      session.request(`${app.issuer}/account/security/passkeys/remove`, {
        method: 'POST',
        form: { _csrf: csrf, credential: ids[i % 2]! },
      }),
    );
    const { winners, refusals } = await tally(responses, (s) => s === 303);
    expect(winners).toHaveLength(1);
    expect(clientErrors(refusals)).toBe(true);
    expect(await app.services.passkeys.listForAccount(citizen.account.id)).toHaveLength(1);
  });
});

/** A citizen with a linked certificate: signing in with it goes straight through. */
const linkedCertificate = async () => {
  const { account } = await app.services.accounts.enrolCitizen(
    { name: '동시인증', birthdate: '1985-05-05' },
    'test',
  );
  const leaf = await pki.citizen({ commonName: '동시인증', birthdate: '1985-05-05' });
  await linkCertificate(app, account.id, leaf, [pki.intermediate]);
  return { account, leaf };
};

describe('certificate sign-in under concurrent replay', () => {
  it('signs in once when the same signed challenge is posted five times at once', async () => {
    const { leaf } = await linkedCertificate();
    const session = createBrowserSession();
    const login = await openLogin(app, session, (await startRp(app)).request.url);
    const { nonce, audience } = await (
      await session.request(
        `${app.issuer}${login.path}/certificate/challenge`,
        json(login.csrf, {}),
      )
    ).json();
    const jws = await signChallenge({ nonce, audience, leaf, chain: [pki.intermediate] });
    const { winners, refusals } = await tally(
      await atOnce(() =>
        session.request(`${app.issuer}${login.path}/certificate/verify`, json(login.csrf, { jws })),
      ),
    );
    expect(winners).toHaveLength(1);
    expect(refusals).toEqual(Array(FIVE - 1).fill({ status: 401, code: 'ERR_CERT_REPLAYED' }));
    expect(
      await auditRows(app, 'auth.certificate.verified', { fingerprint: fingerprintOf(leaf) }),
    ).toHaveLength(1);
  });

  it('creates one account when certificate self-enrolment is submitted five times at once', async () => {
    const leaf = await pki.citizen({ commonName: '동시가입', birthdate: '1979-09-09' });
    const session = createBrowserSession();
    const login = await openLogin(app, session, (await startRp(app)).request.url);
    const { body } = await challengeSignIn(app, session, login, leaf, [pki.intermediate]);
    expect(body.location).toBe(`${login.path}/certificate/enrol`);
    const enrolUrl = `${app.issuer}${body.location}`;
    const csrf = csrfFrom(await (await session.request(enrolUrl)).text());
    const { winners, refusals } = await tally(
      await atOnce(() => session.request(enrolUrl, { method: 'POST', form: { _csrf: csrf } })),
      (s) => s === 303,
    );
    expect(winners).toHaveLength(1);
    expect(clientErrors(refusals)).toBe(true);
    expect(
      await app.knex('account_certificates').where({ fingerprint: fingerprintOf(leaf) }),
    ).toHaveLength(1);
    expect(
      await auditRows(app, 'accounts.created.certificate', { fingerprint: fingerprintOf(leaf) }),
    ).toHaveLength(1);
  });

  it('accepts a mutual-TLS ticket once, and hands its outcome over once, when each is used five times at once', async () => {
    const { leaf } = await linkedCertificate();
    const session = createBrowserSession();
    const login = await openLogin(app, session, (await startRp(app)).request.url);
    const handOver = await session.request(`${app.issuer}${login.path}/certificate/tls`, {
      method: 'POST',
      form: { _csrf: login.csrf },
    });
    const ticketUrl = handOver.headers.get('location')!;
    expect(ticketUrl).toMatch(
      new RegExp(`^https://localhost:${loginPort}/certificate/tls\\?ticket=`),
    );

    // Step 2: the listener takes the ticket. Five TLS handshakes with the citizen's certificate.
    const tls = await atOnce(() => tlsGet(ticketUrl, leaf));
    const accepted = tls.filter((t) => t.status === 303);
    expect(accepted).toHaveLength(1);
    expect(tls.filter((t) => t.status === 400)).toHaveLength(FIVE - 1);
    const completeUrl = accepted[0]!.location!;
    expect(new URL(completeUrl).pathname).toBe(`${login.path}/certificate/complete`);

    // Step 3: back on the main listener, the outcome is taken once.
    const { winners, refusals } = await tally(
      await atOnce(() => session.request(completeUrl)),
      (s) => s === 303,
    );
    expect(winners).toHaveLength(1);
    expect(winners[0]!.headers.get('location')).toContain('/auth/');
    expect(refusals).toEqual(
      Array(FIVE - 1).fill({ status: 400, code: 'ERR_CERT_TICKET_INVALID' }),
    );
    expect(
      await auditRows(app, 'auth.certificate.verified', {
        fingerprint: fingerprintOf(leaf),
        method: 'mtls',
      }),
    ).toHaveLength(1);
  });
});

describe('dynamic client registration under concurrent replay', () => {
  it('rotates a registration access token once when five updates present it at once', async () => {
    await app.services.admin.admins.putAgency(cliPrincipal(), { name: 'Replay Agency' });
    const { token } = await app.services.admin.dcr.issueInitialToken(cliPrincipal(), {
      agency: 'Replay Agency',
    });
    const metadata = {
      client_name: '동시 갱신',
      redirect_uris: ['http://localhost:4780/cb'],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'],
    };
    const registered = await fetch(`${app.issuer}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(metadata),
    });
    expect(registered.status).toBe(201);
    const {
      client_id: clientId,
      registration_client_uri: uri,
      registration_access_token: first,
    } = await registered.json();
    const bearer = (rat: string) => ({ authorization: `Bearer ${rat}` });

    const responses = await atOnce((i) =>
      fetch(uri, {
        method: 'PUT',
        headers: { ...bearer(first), 'content-type': 'application/json' },
        body: JSON.stringify({ ...metadata, client_id: clientId, client_name: `동시 갱신 ${i}` }),
      }),
    );
    const bodies = (await Promise.all(responses.map((r) => r.json()))) as {
      error?: string;
      client_name?: string;
      registration_access_token?: string;
    }[];
    expect(responses.map((r) => r.status).sort()).toEqual([200, ...Array(FIVE - 1).fill(401)]);
    expect(bodies.filter((b) => b.error === 'invalid_token')).toHaveLength(FIVE - 1);
    // One successor, and the refused updates wrote nothing.
    const winner = bodies.find((b) => b.registration_access_token)!;
    expect((await fetch(uri, { headers: bearer(winner.registration_access_token!) })).status).toBe(
      200,
    );
    expect((await fetch(uri, { headers: bearer(first) })).status).toBe(401);
    expect(
      await app.knex('dcr_tokens').where({ kind: 'registration', client_id: clientId }),
    ).toHaveLength(1);
    expect((await app.services.clients.find(clientId))?.metadata.client_name).toBe(
      winner.client_name,
    );
    expect(
      (await auditRows(app, 'clients.updated')).filter((r) => r.subject === `client:${clientId}`),
    ).toHaveLength(1);
  });
});

/** GET over TLS to the certificate listener, presenting `client` and its chain. */
const tlsGet = async (url: string, client: Issued) => {
  const key = await privateKeyPem(client);
  return new Promise<{ status: number; location: string | undefined }>((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        method: 'GET',
        ca: pki.root.pem,
        agent: false,
        key,
        cert: `${client.pem}\n${pki.intermediate.pem}`,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, location: res.headers.location }));
      },
    );
    req.on('error', reject);
    req.end();
  });
};
