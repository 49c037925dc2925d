// Signing keys: generated on first start, private parts sealed in the database, published in
// the JWKS, and rotated without invalidating tokens already issued.
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { createBrowserSession } from '../support/browser-session.ts';
import {
  authorizationRequest,
  discover,
  enrolCitizen,
  registerClient,
  signIn,
} from '../support/flows.ts';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app?.stop());

const idToken = async (
  client: Awaited<ReturnType<typeof registerClient>>,
  citizen: Awaited<ReturnType<typeof enrolCitizen>>,
) => {
  const config = await discover(app, client);
  const request = await authorizationRequest(config, client.redirectUri);
  const callback = await signIn(app, createBrowserSession(), citizen.authenticator, request.url);
  return oidc.authorizationCodeGrant(config, new URL(callback), {
    pkceCodeVerifier: request.verifier,
    expectedState: request.state,
    expectedNonce: request.nonce,
  });
};

describe('signing keys', () => {
  it('publishes a rotated key before it signs, then switches when it is due', async () => {
    const citizen = await enrolCitizen(app);
    const client = await registerClient(app);
    const signingKid = async () =>
      decodeProtectedHeader((await idToken(client, citizen)).id_token!).kid;
    const before = await signingKid();
    const pending = await app.services.signingKeys.rotate('test', { activateAfterSeconds: 3600 });
    await app.reloadKeys();
    const published = (await (await fetch(`${app.issuer}/jwks`)).json()).keys.map(
      (k: { kid: string }) => k.kid,
    );
    expect(published).toEqual(expect.arrayContaining(pending));
    expect(await signingKid()).toBe(before);
    // Due now: the next reload promotes it on this instance (and on every other one).
    await app
      .knex('signing_keys')
      .whereIn('kid', pending)
      .update({ activate_at: new Date(Date.now() - 1000) });
    expect(await app.reloadKeys()).toBe(true);
    const after = await signingKid();
    expect(pending).toContain(after);
    expect(after).not.toBe(before);
  });

  it('keeps private keys sealed at rest', async () => {
    const rows = await app.knex('signing_keys').select('alg', 'private_jwk_sealed', 'public_jwk');
    expect(rows.map((r) => r.alg).sort()).toEqual(expect.arrayContaining(['ES256', 'RS256']));
    for (const row of rows) {
      expect(row.private_jwk_sealed).toMatch(/^v1\./);
      expect(row.private_jwk_sealed).not.toContain('"d"');
      expect(row.public_jwk).not.toHaveProperty('d');
    }
  });

  it('rotates keys without invalidating tokens already issued', async () => {
    const citizen = await enrolCitizen(app);
    const client = await registerClient(app);
    const before = await idToken(client, citizen);
    const oldKid = decodeProtectedHeader(before.id_token!).kid;

    const newKids = await app.services.signingKeys.rotate('test', { activateAfterSeconds: 0 });
    // Announced on the change feed: this instance may have reloaded already.
    await app.reloadKeys();
    const jwks = await (await fetch(`${app.issuer}/jwks`)).json();
    const published = jwks.keys.map((k: { kid: string }) => k.kid);
    expect(published).toEqual(expect.arrayContaining([oldKid, ...newKids]));

    // The token signed before rotation still verifies against the published JWKS...
    const keySet = createRemoteJWKSet(new URL(`${app.issuer}/jwks`));
    await expect(jwtVerify(before.id_token!, keySet, { issuer: app.issuer })).resolves.toBeTruthy();
    // ...its access and refresh tokens still work...
    const config = await discover(app, client);
    expect((await oidc.tokenIntrospection(config, before.access_token)).active).toBe(true);
    const refreshed = await oidc.refreshTokenGrant(config, before.refresh_token!);
    // ...and new tokens are signed with the new key.
    const newKid = decodeProtectedHeader(refreshed.id_token!).kid;
    expect(newKids).toContain(newKid);
    expect(newKid).not.toBe(oldKid);
  });
});
