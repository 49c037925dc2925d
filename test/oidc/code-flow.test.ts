// openid-client as the relying party, over real HTTP: discovery, code + PKCE, ID token
// validation, userinfo, refresh rotation, introspection and revocation.
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
import type { SoftAuthenticator } from '../support/soft-authenticator.ts';

let app: TestApp;
let citizen: Awaited<ReturnType<typeof enrolCitizen>>;

beforeAll(async () => {
  app = await startTestApp();
  citizen = await enrolCitizen(app, {
    name: '김철수',
    birthdate: '1985-03-04',
    email: 'kim@example.com',
    phone: '010-1234-5678',
  });
});
afterAll(() => app?.stop());

const fullSignIn = async (
  authenticator: SoftAuthenticator,
  client: Awaited<ReturnType<typeof registerClient>>,
  params: Record<string, string> = {},
) => {
  const config = await discover(app, client);
  const request = await authorizationRequest(config, client.redirectUri, params);
  const session = createBrowserSession();
  const callback = await signIn(app, session, authenticator, request.url);
  const tokens = await oidc.authorizationCodeGrant(config, new URL(callback), {
    pkceCodeVerifier: request.verifier,
    expectedState: request.state,
    expectedNonce: request.nonce,
  });
  return { config, tokens, session, callback, request };
};

describe('authorization code flow with openid-client', () => {
  it('publishes discovery metadata that forbids implicit, hybrid and plain PKCE', async () => {
    const client = await registerClient(app);
    const config = await discover(app, client);
    const metadata = config.serverMetadata();
    expect(metadata.issuer).toBe(app.issuer);
    expect(metadata.response_types_supported).toEqual(['code']);
    expect(metadata.code_challenge_methods_supported).toEqual(['S256']);
    expect(metadata.subject_types_supported).toEqual(['pairwise']);
    expect(metadata.id_token_signing_alg_values_supported).toEqual(
      expect.arrayContaining(['ES256', 'RS256']),
    );
    const jwks = await (await fetch(metadata.jwks_uri!)).json();
    expect(jwks.keys.map((k: { alg: string }) => k.alg)).toEqual(
      expect.arrayContaining(['ES256', 'RS256']),
    );
    expect(jwks.keys.every((k: Record<string, unknown>) => !('d' in k))).toBe(true);
  });

  it('signs a citizen in with a passkey and returns verified claims, acr and amr', async () => {
    const client = await registerClient(app);
    const { config, tokens } = await fullSignIn(citizen.authenticator, client, {
      scope: 'openid profile email phone',
    });
    const claims = tokens.claims()!;
    expect(claims.iss).toBe(app.issuer);
    expect(claims.aud).toBe(client.clientId);
    expect(claims.acr).toBe('urn:one-id:loa:substantial');
    expect(claims.amr).toEqual(['hwk', 'user']);
    expect(claims.sub).not.toBe(citizen.account.id);
    const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
    expect(userinfo).toMatchObject({
      name: '김철수',
      birthdate: '1985-03-04',
      email: 'kim@example.com',
      email_verified: true,
      phone_number: '01012345678',
    });
  });

  it('rotates refresh tokens and rejects the old one', async () => {
    const client = await registerClient(app);
    const { config, tokens } = await fullSignIn(citizen.authenticator, client);
    expect(tokens.refresh_token).toBeTruthy();
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.refresh_token).toBeTruthy();
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
  });

  it('introspects and revokes tokens', async () => {
    const client = await registerClient(app);
    const { config, tokens } = await fullSignIn(citizen.authenticator, client);
    const active = await oidc.tokenIntrospection(config, tokens.access_token);
    expect(active.active).toBe(true);
    expect(active.client_id).toBe(client.clientId);
    await oidc.tokenRevocation(config, tokens.access_token);
    expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(false);
    await oidc.tokenRevocation(config, tokens.refresh_token!);
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
  });

  it('gives each sector its own stable pairwise subject', async () => {
    const first = await registerClient(app, { redirect_uris: ['http://localhost:4101/cb'] });
    const sameSector = await registerClient(app, {
      redirect_uris: ['http://localhost:4101/other'],
    });
    // Another agency's system on the same host (a shared government portal) is another sector.
    const otherAgency = await registerClient(app, {
      redirect_uris: ['http://localhost:4101/third'],
      agency: 'Other Agency',
    });
    const otherSector = await registerClient(app, {
      redirect_uris: ['https://agency-b.example/cb'],
    });
    const a1 = (await fullSignIn(citizen.authenticator, first)).tokens.claims()!.sub;
    const a2 = (await fullSignIn(citizen.authenticator, first)).tokens.claims()!.sub;
    const same = (await fullSignIn(citizen.authenticator, sameSector)).tokens.claims()!.sub;
    const sharedHost = (await fullSignIn(citizen.authenticator, otherAgency)).tokens.claims()!.sub;
    // The other sector's callback is https on a host that does not exist: capture the code
    // from the redirect instead of following it.
    const config = await discover(app, otherSector);
    const request = await authorizationRequest(config, otherSector.redirectUri);
    const callback = await signIn(app, createBrowserSession(), citizen.authenticator, request.url);
    const b = (
      await oidc.authorizationCodeGrant(config, new URL(callback), {
        pkceCodeVerifier: request.verifier,
        expectedState: request.state,
        expectedNonce: request.nonce,
      })
    ).claims()!.sub;
    expect(a1).toBe(a2);
    expect(same).toBe(a1);
    expect(b).not.toBe(a1);
    expect(sharedHost).not.toBe(a1);
    const other = await enrolCitizen(app);
    const c = (await fullSignIn(other.authenticator, first)).tokens.claims()!.sub;
    expect(c).not.toBe(a1);
  });

  it('signs in with a non-discoverable credential found by email', async () => {
    const client = await registerClient(app);
    const config = await discover(app, client);
    const request = await authorizationRequest(config, client.redirectUri);
    const callback = await signIn(app, createBrowserSession(), citizen.authenticator, request.url, {
      identifier: 'KIM@example.com',
    });
    const tokens = await oidc.authorizationCodeGrant(config, new URL(callback), {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
      expectedNonce: request.nonce,
    });
    expect(tokens.claims()!.acr).toBe('urn:one-id:loa:substantial');
  });

  it('issues client_credentials tokens to confidential clients', async () => {
    const client = await registerClient(app, { grant_types: ['client_credentials'] });
    const config = await discover(app, client);
    const tokens = await oidc.clientCredentialsGrant(config);
    expect(tokens.access_token).toBeTruthy();
  });
});
