// Revoking a leaked signing key (`keys revoke KID`): it leaves the JWKS at once, nothing signed
// with it verifies any more (a token an attacker signs with it included), a key that was signing
// is replaced by a new one of its algorithm that signs at once, and the revocation is audited.
import {
  createLocalJWKSet,
  decodeProtectedHeader,
  importJWK,
  jwtVerify,
  SignJWT,
  type JSONWebKeySet,
  type JWK,
} from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { createBrowserSession } from '../support/browser-session.ts';
import { cliEnv, cliProcess } from '../support/cli.ts';
import {
  authorizationRequest,
  discover,
  enrolCitizen,
  registerClient,
  signIn,
} from '../support/flows.ts';

let app: TestApp;
let citizen: Awaited<ReturnType<typeof enrolCitizen>>;
beforeAll(async () => {
  app = await startTestApp();
  citizen = await enrolCitizen(app);
});
afterAll(() => app?.stop());

/** The CLI as an operator runs it: with the servers' Redis when they have one. */
const cli = (...args: string[]) =>
  cliProcess(
    { ...cliEnv(app), ...(app.config.redisUrl && { REDIS_URL: app.config.redisUrl }) },
    args,
  );

const jwks = async (): Promise<JSONWebKeySet> => (await fetch(`${app.issuer}/jwks`)).json();
const kids = async () => (await jwks()).keys.map((k) => k.kid);
const kidOf = (jwt: string) => decodeProtectedHeader(jwt).kid!;

const signInFor = async (client: Awaited<ReturnType<typeof registerClient>>) => {
  const config = await discover(app, client);
  const request = await authorizationRequest(config, client.redirectUri);
  const callback = await signIn(app, createBrowserSession(), citizen.authenticator, request.url);
  return oidc.authorizationCodeGrant(config, new URL(callback), {
    pkceCodeVerifier: request.verifier,
    expectedState: request.state,
    expectedNonce: request.nonce,
  });
};

const verify = async (jwt: string, set: JSONWebKeySet, audience: string) =>
  jwtVerify(jwt, createLocalJWKSet(set), { issuer: app.issuer, audience });

/** What an attacker holding the key's private part can sign: a token naming its kid. */
const forge = async (kid: string, audience: string) => {
  const jwk = (await app.services.signingKeys.engineJwks()).keys.find((k) => k.kid === kid)!;
  return new SignJWT({ sub: 'attacker' })
    .setProtectedHeader({ alg: jwk.alg!, kid })
    .setIssuer(app.issuer)
    .setAudience(audience)
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(await importJWK(jwk as JWK, jwk.alg));
};

const privateParts = async (kid: string) => {
  const jwk = (await app.services.signingKeys.engineJwks()).keys.find((k) => k.kid === kid)!;
  return [jwk.d, jwk.p, jwk.q].filter((v): v is string => typeof v === 'string');
};

describe('keys revoke', () => {
  it('unpublishes the key that signs on the running server at once, and a new key signs in its place', async () => {
    const client = await registerClient(app);
    const before = await signInFor(client);
    const leaked = kidOf(before.id_token!);
    const forged = await forge(leaked, client.clientId);
    const secrets = await privateParts(leaked);
    // Before: both verify against the published set (served from the kept copy too).
    expect(await kids()).toContain(leaked);
    await expect(verify(forged, await jwks(), client.clientId)).resolves.toBeTruthy();

    const revoked = await cli('keys', 'revoke', leaked);
    expect(revoked.stderr).toBe('');
    expect(revoked.code).toBe(0);
    const replacement = /New \w+ signing key: (\S+) \(signs at once\)/.exec(revoked.stdout)?.[1];
    expect(replacement).toBeDefined();
    expect(revoked.stdout).toContain(`Signing key ${leaked}`);
    expect(revoked.stdout).toMatch(/Running servers were told/);
    expect(revoked.stdout).toMatch(/up to \d+ s \(the JWKS's Cache-Control max-age\)/);
    for (const secret of secrets) expect(revoked.stdout).not.toContain(secret);

    // The server was told through the change feed: well within its 30 s key poll.
    await vi.waitFor(async () => expect(await kids()).not.toContain(leaked), {
      timeout: 3000,
      interval: 50,
    });
    const published = await jwks();
    expect(published.keys.map((k) => k.kid)).toContain(replacement);
    // Nothing signed with the revoked key verifies against the set relying parties now fetch.
    await expect(verify(forged, published, client.clientId)).rejects.toMatchObject({
      code: 'ERR_JWKS_NO_MATCHING_KEY',
    });
    await expect(verify(before.id_token!, published, client.clientId)).rejects.toMatchObject({
      code: 'ERR_JWKS_NO_MATCHING_KEY',
    });

    // One-ID itself no longer trusts it: an RP's logout naming that ID token as its hint is
    // refused (docs/security.md: such RPs send client_id instead, or a fresh ID token).
    const hinted = (hint: string) =>
      fetch(
        `${app.issuer}/session/end?${new URLSearchParams({ id_token_hint: hint, client_id: client.clientId })}`,
      );
    const refused = await hinted(before.id_token!);
    expect(refused.status).toBe(400);
    expect(await refused.text()).toMatch(/invalid_request|could not validate id_token_hint/);

    // New tokens are signed with the new key and verify (jose; openid-client checked their claims).
    const config = await discover(app, client);
    const refreshed = await oidc.refreshTokenGrant(config, before.refresh_token!);
    expect(kidOf(refreshed.id_token!)).toBe(replacement);
    const { payload } = await verify(refreshed.id_token!, published, client.clientId);
    expect(payload.sub).toBe(before.claims()!.sub);
    const after = await signInFor(client);
    expect(kidOf(after.id_token!)).toBe(replacement);
    await expect(verify(after.id_token!, published, client.clientId)).resolves.toBeTruthy();
    expect((await hinted(after.id_token!)).status).toBe(200);

    // Audited with the kid, by the CLI, never with the key.
    const audit = await app
      .knex('audit_events')
      .where({ action: 'keys.revoked', subject: `key:${leaked}` })
      .first('actor', 'details');
    expect(audit).toMatchObject({
      actor: 'cli',
      details: { kid: leaked, status: 'active', replacement },
    });
    for (const secret of secrets) expect(JSON.stringify(audit)).not.toContain(secret);
    const listed = (await cli('keys', 'list')).stdout;
    expect(listed).not.toContain(leaked);
    expect(listed).toContain(replacement);
  });

  it('refuses an unknown kid, or none, with a clear message and a non-zero exit', async () => {
    const before = await app.knex('signing_keys').count({ n: '*' }).first();
    const unknown = await cli('keys', 'revoke', 'no-such-kid');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^Error: no signing key no-such-kid \(already revoked/);
    const missing = await cli('keys', 'revoke');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^Error: a KID is required: keys revoke KID/);
    expect(await app.knex('signing_keys').count({ n: '*' }).first()).toEqual(before);
  });

  it('revoking the only key of an algorithm rotates in a new signer of that algorithm', async () => {
    const signing = await app.services.signingKeys.list();
    for (const alg of ['ES256', 'RS256']) {
      const [only] = signing.filter((k) => k.alg === alg && k.status === 'active');
      expect(only).toBeDefined();
      const revoked = await app.services.signingKeys.revoke('test', only!.kid);
      expect(revoked).toMatchObject({ kid: only!.kid, alg, status: 'active' });
      const active = (await app.services.signingKeys.list()).filter(
        (k) => k.alg === alg && k.status === 'active',
      );
      expect(active.map((k) => k.kid)).toEqual([revoked.replacement]);

      // A client of that algorithm gets ID tokens signed with the new key at once.
      await app.reloadKeys();
      const client = await registerClient(app, { id_token_signed_response_alg: alg });
      const tokens = await signInFor(client);
      expect(decodeProtectedHeader(tokens.id_token!)).toMatchObject({
        alg,
        kid: revoked.replacement,
      });
      await expect(verify(tokens.id_token!, await jwks(), client.clientId)).resolves.toBeTruthy();
    }
  });

  it('revokes a retired key without a replacement, and refuses to leave an algorithm with no key', async () => {
    const [kid] = await app.services.signingKeys.rotate('test', { activateAfterSeconds: 0 });
    const retired = (await app.services.signingKeys.list()).find(
      (k) => k.status === 'retired' && k.alg === 'ES256',
    )!;
    await app.reloadKeys();
    expect(await kids()).toContain(retired.kid);
    const revoked = await app.services.signingKeys.revoke('test', retired.kid);
    expect(revoked).toMatchObject({ status: 'retired', replacement: undefined });
    await app.reloadKeys();
    expect(await kids()).not.toContain(retired.kid);
    expect(await kids()).toContain(kid);

    // A signing key of an algorithm One-ID makes no keys for cannot be replaced: nothing changes.
    const sealed = (await app.knex('signing_keys').where({ kid }).first()).private_jwk_sealed;
    await app.knex('signing_keys').insert({
      kid: 'legacy-ps256',
      alg: 'PS256',
      public_jwk: JSON.stringify({ kty: 'RSA', kid: 'legacy-ps256' }),
      private_jwk_sealed: sealed,
      status: 'active',
    });
    try {
      await expect(app.services.signingKeys.revoke('test', 'legacy-ps256')).rejects.toMatchObject({
        code: 'ERR_SIGNING_KEY_IRREPLACEABLE',
        message: expect.stringMatching(/would leave PS256 with no key; nothing was changed/),
      });
      expect(await app.knex('signing_keys').where({ kid: 'legacy-ps256' }).first()).toBeDefined();
    } finally {
      await app.knex('signing_keys').where({ kid: 'legacy-ps256' }).delete();
    }
  });

  it('rotation and pruning reach the running server through the change feed too, not its 30 s poll', async () => {
    const rotated = await cli('keys', 'rotate');
    expect(rotated.code, rotated.stderr).toBe(0);
    const published = [...rotated.stdout.matchAll(/[A-Za-z0-9_-]{20,}/g)].map((m) => m[0]);
    expect(published.length).toBeGreaterThanOrEqual(2);
    await vi.waitFor(async () => expect(await kids()).toEqual(expect.arrayContaining(published)), {
      timeout: 3000,
      interval: 50,
    });
    // Retired keys pruned (retired two days ago here) leave the published set at once too.
    await app.services.signingKeys.rotate('test', { activateAfterSeconds: 0 });
    await app
      .knex('signing_keys')
      .where({ status: 'retired' })
      .update({
        retired_at: new Date(Date.now() - 2 * 86400_000),
      });
    await app.reloadKeys();
    const retired = (await app.services.signingKeys.list())
      .filter((k) => k.status === 'retired')
      .map((k) => k.kid);
    expect(retired.length).toBeGreaterThan(0);
    expect(await kids()).toEqual(expect.arrayContaining(retired));
    const pruned = await cli('keys', 'prune', '--older-than-days', '1');
    expect(pruned.code, pruned.stderr).toBe(0);
    await vi.waitFor(
      async () => {
        const now = await kids();
        for (const kid of retired) expect(now).not.toContain(kid);
      },
      { timeout: 3000, interval: 50 },
    );
  });
});
