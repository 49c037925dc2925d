// The passkey rules an agency relies on when it reads `amr` and `acr`: a cloned authenticator (its
// signature counter did not advance) is refused and audited as such (WebAuthn L2 7.2 step 21), a
// challenge is answerable for its lifetime only, and a synced passkey is reported as a software key
// (`swk`, RFC 8176), a device-bound one as a hardware key (`hwk`).
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { createBrowserSession, csrfFrom, type BrowserSession } from '../support/browser-session.ts';
import {
  authorizationRequest,
  discover,
  enrolCitizen,
  registerClient,
  signIn,
} from '../support/flows.ts';
import { createSoftAuthenticator, type SoftAuthenticator } from '../support/soft-authenticator.ts';

let app: TestApp;
/** The same app with a 2 s challenge lifetime (the default is 300 s). */
let shortLived: TestApp;

beforeAll(async () => {
  // One after the other: two embedded databases opening at once can starve a loaded machine.
  app = await startTestApp();
  shortLived = await startTestApp({}, { app: { passkeyChallengeTtlSeconds: 2 } });
});
afterAll(() => Promise.all([app?.stop(), shortLived?.stop()]));

/** Opens an agency's sign-in at One-ID's login page; `lang` picks the page language. */
const openLogin = async (on: TestApp, session: BrowserSession, lang: 'ko' | 'en' = 'ko') => {
  const client = await registerClient(on);
  const request = await authorizationRequest(await discover(on, client), client.redirectUri);
  const { res, url } = await session.follow(request.url.toString(), on.issuer);
  const html = await res.text();
  expect(html).toContain('id="passkey-login"');
  const path = new URL(url).pathname;
  const post = (step: 'options' | 'verify', json: unknown) =>
    session.request(`${on.issuer}${path}/passkey/${step}?lang=${lang}`, {
      method: 'POST',
      json,
      headers: { 'x-csrf-token': csrfFrom(html) },
    });
  return {
    options: async () => (await post('options', {})).json(),
    verify: (assertion: unknown) => post('verify', assertion),
  };
};

/** A full sign-in to a new agency system; returns the ID token's claims. */
const idTokenOf = async (authenticator: SoftAuthenticator) => {
  const client = await registerClient(app);
  const config = await discover(app, client);
  const request = await authorizationRequest(config, client.redirectUri);
  const callback = await signIn(app, createBrowserSession(), authenticator, request.url);
  return (
    await oidc.authorizationCodeGrant(config, new URL(callback), {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
      expectedNonce: request.nonce,
    })
  ).claims()!;
};

const storedCredential = async (id: string) =>
  app.knex('passkey_credentials').where({ id }).first();
const failures = async (accountId: string) =>
  (await app
    .knex('audit_events')
    .where({ action: 'auth.passkey.failed', subject: `account:${accountId}` })
    .orderBy('id')) as { actor: string; ip: string | null; details: Record<string, unknown> }[];

describe('the signature counter', () => {
  it('refuses a cloned passkey (a counter equal to the last one seen, or reset to 0), audits it, and keeps the genuine one working', async () => {
    const citizen = await enrolCitizen(app);
    await idTokenOf(citizen.authenticator);
    const [genuine] = citizen.authenticator.credentials;
    expect(genuine!.counter).toBe(1);
    expect(Number((await storedCredential(genuine!.id.toString('base64url'))).counter)).toBe(1);

    // A copy of the key signs with its own counter: the same as the last one seen, then reset.
    for (const [lang, clone] of [
      ['ko', { ...genuine!, counter: 0 }],
      ['en', { ...genuine!, counter: -1 }],
    ] as const) {
      const login = await openLogin(app, createBrowserSession(), lang);
      const res = await login.verify(
        citizen.authenticator.authenticate(await login.options(), clone),
      );
      expect(res.status).toBe(400);
      const body = await res.json();
      expect(body.code).toBe('ERR_PASSKEY_VERIFICATION_FAILED');
      expect(body.message).toEqual(
        lang === 'ko'
          ? '패스키 인증에 실패했습니다. 다시 시도해 주세요.'
          : expect.stringMatching(/passkey/i),
      );
    }
    const audited = await failures(citizen.account.id);
    expect(audited).toHaveLength(2);
    for (const row of audited) {
      expect(row).toMatchObject({ actor: 'anonymous', ip: expect.stringMatching(/127\.0\.0\.1/) });
      expect(row.details).toMatchObject({
        reason: 'counter_not_advanced',
        credentialId: genuine!.id.toString('base64url'),
      });
    }
    // A refused assertion moves nothing: the stored counter stays, the genuine key signs in.
    expect(Number((await storedCredential(genuine!.id.toString('base64url'))).counter)).toBe(1);
    expect((await idTokenOf(citizen.authenticator)).acr).toBe('urn:one-id:loa:substantial');
    expect(Number((await storedCredential(genuine!.id.toString('base64url'))).counter)).toBe(2);
  });

  it('accepts a passkey that keeps no counter (always 0), as synced passkeys do', async () => {
    const citizen = await enrolCitizen(
      app,
      {},
      createSoftAuthenticator({ origin: app.issuer, synced: true }),
    );
    const [credential] = citizen.authenticator.credentials;
    for (let i = 0; i < 2; i += 1) {
      const login = await openLogin(app, createBrowserSession());
      const res = await login.verify(
        citizen.authenticator.authenticate(await login.options(), { ...credential!, counter: -1 }),
      );
      expect(res.status).toBe(200);
    }
    expect(await failures(citizen.account.id)).toEqual([]);
  });
});

describe('amr for synced and device-bound passkeys (RFC 8176)', () => {
  it('says swk for a synced (backup-eligible) passkey and hwk for a device-bound one', async () => {
    const synced = await enrolCitizen(
      app,
      {},
      createSoftAuthenticator({ origin: app.issuer, synced: true }),
    );
    const bound = await enrolCitizen(app, {}, createSoftAuthenticator({ origin: app.issuer }));
    expect(
      await storedCredential(synced.authenticator.credentials[0]!.id.toString('base64url')),
    ).toMatchObject({ device_type: 'multiDevice', backed_up: true });
    expect(
      await storedCredential(bound.authenticator.credentials[0]!.id.toString('base64url')),
    ).toMatchObject({ device_type: 'singleDevice', backed_up: false });

    const syncedToken = await idTokenOf(synced.authenticator);
    expect(syncedToken.amr).toEqual(['swk', 'user']);
    expect(syncedToken.acr).toBe('urn:one-id:loa:substantial');
    expect((await idTokenOf(bound.authenticator)).amr).toEqual(['hwk', 'user']);
    const verified = await app
      .knex('audit_events')
      .where({ action: 'auth.passkey.verified', subject: `account:${synced.account.id}` })
      .first();
    expect(verified.details.amr).toEqual(['swk', 'user']);
  });
});

describe('the challenge lifetime', () => {
  it('offers the browser 300 s by default', async () => {
    const login = await openLogin(app, createBrowserSession());
    expect((await login.options()).timeout).toBe(300_000);
  });

  it('refuses an answer to a challenge older than its lifetime, and accepts one within it', async () => {
    const citizen = await enrolCitizen(shortLived);
    const late = await openLogin(shortLived, createBrowserSession());
    const options = await late.options();
    expect(options.timeout).toBe(2000);
    const assertion = citizen.authenticator.authenticate(options);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const res = await late.verify(assertion);
    expect(res.status).toBe(400);
    expect((await res.json()).code).toBe('ERR_PASSKEY_VERIFICATION_FAILED');
    // The same citizen and key, answered at once: accepted.
    const prompt = await openLogin(shortLived, createBrowserSession());
    expect(
      (await prompt.verify(citizen.authenticator.authenticate(await prompt.options()))).status,
    ).toBe(200);
  });
});
