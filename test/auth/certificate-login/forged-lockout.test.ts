// A stranger cannot lock a certificate holder out (LOCKOUT_THRESHOLD=2): signed challenges that
// name the citizen's public certificate in x5c but were signed by another key count against the
// stranger's address and interaction, never against the certificate. Failures the certificate's
// own key made still count against it. Requests come through the trusted proxy on behalf of a
// documentation address each.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../support/app.ts';
import { createBrowserSession, csrfFrom } from '../../support/browser-session.ts';
import {
  authorizationRequest,
  discover,
  enrolCitizen,
  registerClient,
} from '../../support/flows.ts';
import { generateKeys } from '../../support/pki.ts';
import {
  certificateEnv,
  createTestPki,
  linkCertificate,
  signChallenge,
  type TestPki,
} from './support.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let app: TestApp;
let pki: TestPki;
let leaf: Awaited<ReturnType<TestPki['citizen']>>;

beforeAll(async () => {
  pki = await createTestPki();
  app = await startTestApp({
    ...certificateEnv(pki),
    TRUSTED_PROXIES: '127.0.0.1',
    LOCKOUT_THRESHOLD: '2',
    LOCKOUT_SECONDS: '900',
  });
  const citizen = await enrolCitizen(app, { name: '인증서 보유자' });
  leaf = await pki.citizen();
  await linkCertificate(app, citizen.account.id, leaf, [pki.intermediate]);
});
afterAll(async () => {
  await app?.stop();
  await pki?.close();
});

/** A login page of a fresh authorization request, opened on behalf of `address`. */
const openLogin = async (address: string) => {
  const client = await registerClient(app);
  const request = await authorizationRequest(await discover(app, client), client.redirectUri);
  const session = createBrowserSession();
  const { res, url } = await session.follow(request.url.href, app.issuer, {
    headers: { 'x-forwarded-for': address },
  });
  const csrf = csrfFrom(await res.text());
  const post = (step: string, json: unknown) =>
    session.request(`${url}/certificate/${step}`, {
      method: 'POST',
      json,
      headers: { 'x-forwarded-for': address, 'x-csrf-token': csrf, accept: 'application/json' },
    });
  /** One signed challenge naming the holder's certificate, signed by `key` for `audience`. */
  return async (options: { key?: CryptoKey; audience?: string } = {}) => {
    const challenge = (await (await post('challenge', {})).json()) as {
      nonce: string;
      audience: string;
    };
    const jws = await signChallenge({
      nonce: challenge.nonce,
      audience: options.audience ?? challenge.audience,
      leaf,
      chain: [pki.intermediate],
      ...(options.key && { key: options.key }),
    });
    const res = await post('verify', { jws });
    return { status: res.status, body: (await res.json()) as { code?: string; location?: string } };
  };
};

describe('failed signed challenges', () => {
  it("do not lock the holder out when another key made them; the stranger's address is slowed", async () => {
    const forger = (await generateKeys()).privateKey;
    const stranger = await openLogin('198.51.100.66');
    // Two failures (the threshold; a 1 s delay follows the first) used to lock the certificate.
    expect((await stranger({ key: forger })).status).toBe(401);
    await sleep(1100);
    expect((await stranger({ key: forger })).status).toBe(401);
    // The stranger's own sign-in waits now (not the certificate).
    const slowed = await stranger({ key: forger });
    expect(slowed.status).toBe(429);
    expect(slowed.body.code).toBe('ERR_RATE_LIMITED');
    for (let i = 0; i < 3; i += 1)
      expect((await (await openLogin(`198.51.100.${70 + i}`))({ key: forger })).status).toBe(401);

    // The holder, from elsewhere, signs in with the certificate's own key.
    const holder = await (await openLogin('203.0.113.90'))();
    expect(holder.status).toBe(200);
    expect(holder.body.location).toBeTruthy();
  });

  it('count against the certificate when its own key made them', async () => {
    const holder = await openLogin('203.0.113.91');
    expect((await holder({ audience: 'https://elsewhere.example' })).status).toBe(401);
    await sleep(1100);
    expect((await holder({ audience: 'https://elsewhere.example' })).status).toBe(401);
    const locked = await (await openLogin('203.0.113.92'))();
    expect(locked.status).toBe(429);
    expect(locked.body.code).toBe('ERR_CERTIFICATE_LOCKED');
  });
});
