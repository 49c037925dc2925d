// Refresh token lifetimes: a browser app (public web client) gets one day from sign-in that no
// rotation extends; a server-side client 30 days, renewed by each rotation.
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PUBLIC_REFRESH_SECONDS } from '../../src/oidc/provider.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { createBrowserSession } from '../support/browser-session.ts';
import { authorizationRequest, enrolCitizen, registerClient, signIn } from '../support/flows.ts';

let app: TestApp;
let citizen: Awaited<ReturnType<typeof enrolCitizen>>;

beforeAll(async () => {
  app = await startTestApp();
  citizen = await enrolCitizen(app);
});
afterAll(() => app?.stop());

const tokensFor = async (
  client: Awaited<ReturnType<typeof registerClient>>,
  config: oidc.Configuration,
) => {
  const request = await authorizationRequest(config, client.redirectUri);
  const callback = new URL(
    await signIn(app, createBrowserSession(), citizen.authenticator, request.url),
  );
  return oidc.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: request.verifier,
    expectedState: request.state,
    expectedNonce: request.nonce,
  });
};

const stored = async (refreshToken: string) => {
  const token = await app.provider().RefreshToken.find(refreshToken);
  return { iat: token!.iat!, exp: token!.exp! };
};

describe('refresh token lifetimes', () => {
  it('gives a browser app one day from sign-in, which rotation does not extend', async () => {
    const client = await registerClient(app, { token_endpoint_auth_method: 'none' });
    const config = await oidc.discovery(
      new URL(app.issuer),
      client.clientId,
      undefined,
      oidc.None(),
      { execute: [oidc.allowInsecureRequests] },
    );
    const first = await tokensFor(client, config);
    const initial = await stored(first.refresh_token!);
    expect(initial.exp - initial.iat).toBe(PUBLIC_REFRESH_SECONDS);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const rotated = await oidc.refreshTokenGrant(config, first.refresh_token!);
    const after = await stored(rotated.refresh_token!);
    expect(after.iat).toBeGreaterThan(initial.iat);
    expect(Math.abs(after.exp - initial.exp)).toBeLessThanOrEqual(1);
  });

  it('gives a server-side client 30 days, renewed by each rotation', async () => {
    const client = await registerClient(app);
    const config = await oidc.discovery(
      new URL(app.issuer),
      client.clientId,
      client.clientSecret,
      undefined,
      { execute: [oidc.allowInsecureRequests] },
    );
    const first = await tokensFor(client, config);
    const initial = await stored(first.refresh_token!);
    expect(initial.exp - initial.iat).toBe(30 * 86400);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const rotated = await oidc.refreshTokenGrant(config, first.refresh_token!);
    const after = await stored(rotated.refresh_token!);
    expect(after.exp - after.iat).toBe(30 * 86400);
    expect(after.exp).toBeGreaterThan(initial.exp);
  });
});
