// oauth4webapi v3 (panva), the low-level building blocks: discoveryRequest, validateAuthResponse,
// authorizationCodeGrantRequest, userInfoRequest, refreshTokenGrantRequest. This driver
// authenticates with private_key_jwt, One-ID's recommended client authentication.
import { calculateJwkThumbprint, exportJWK } from 'jose';
import * as oauth from 'oauth4webapi';
import { expect } from 'vitest';
import { createBrowserSession } from '../../support/browser-session.ts';
import { signIn } from '../../support/flows.ts';
import { expectConsentedUserinfo, expectOneIdIdToken, type Driver } from '../harness.ts';
import { confirmLogout, silentAuthError } from '../support.ts';

// Test issuer is http://localhost; production One-ID is https and needs none of this.
const insecure = { [oauth.allowInsecureRequests]: true } as const;

export const oauth4webapiDriver: Driver = {
  packageName: 'oauth4webapi',
  displayName: 'oauth4webapi',
  clientAuth: 'private_key_jwt',
  notes: [
    'Used as its examples show; `oauth.validateApplicationLevelSignature()` also verifies the ID token signature against the JWKS (optional for a direct TLS response).',
    '`[oauth.allowInsecureRequests]: true` only because the test issuer is `http://localhost`.',
  ],
  async start({ app, citizen, register }) {
    const { privateKey, publicKey } = await oauth.generateKeyPair('ES256', { extractable: true });
    const publicJwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    const registered = await register({
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [{ ...publicJwk, kid, alg: 'ES256', use: 'sig' }] },
    });
    const client: oauth.Client = { client_id: registered.clientId };
    const clientAuth = oauth.PrivateKeyJwt({ key: privateKey, kid });
    const session = createBrowserSession();
    const issuer = new URL(app.issuer);
    let as: oauth.AuthorizationServer;
    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const nonce = oauth.generateRandomNonce();
    let callback: URL;
    let tokens: oauth.TokenEndpointResponse;
    let tokenResponse: Response;
    let sub: string;
    return {
      async discovery() {
        as = await oauth.processDiscoveryResponse(
          issuer,
          await oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...insecure }),
        );
        expect(as.code_challenge_methods_supported).toContain('S256');
      },
      async authorize() {
        const url = new URL(as.authorization_endpoint!);
        url.search = new URLSearchParams({
          client_id: client.client_id,
          redirect_uri: registered.redirectUri,
          response_type: 'code',
          scope: 'openid profile email',
          code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
          code_challenge_method: 'S256',
          state,
          nonce,
        }).toString();
        callback = new URL(await signIn(app, session, citizen.authenticator, url));
      },
      async token() {
        const params = oauth.validateAuthResponse(as, client, callback, state);
        tokenResponse = await oauth.authorizationCodeGrantRequest(
          as,
          client,
          clientAuth,
          params,
          registered.redirectUri,
          verifier,
          insecure,
        );
        tokens = await oauth.processAuthorizationCodeResponse(as, client, tokenResponse, {
          expectedNonce: nonce,
          requireIdToken: true,
        });
        expect(tokens.access_token).toBeTruthy();
      },
      async idToken() {
        await oauth.validateApplicationLevelSignature(as, tokenResponse, insecure);
        const claims = oauth.getValidatedIdTokenClaims(tokens)!;
        expectOneIdIdToken(expect, claims, {
          issuer: app.issuer,
          clientId: client.client_id,
          accountId: citizen.accountId,
          nonce,
        });
        sub = claims.sub;
      },
      async userinfo() {
        const response = await oauth.userInfoRequest(as, client, tokens.access_token, insecure);
        expectConsentedUserinfo(
          expect,
          await oauth.processUserInfoResponse(as, client, sub, response),
          citizen,
          sub,
        );
      },
      async refresh() {
        const refresh = async (token: string) =>
          oauth.processRefreshTokenResponse(
            as,
            client,
            await oauth.refreshTokenGrantRequest(as, client, clientAuth, token, insecure),
          );
        const refreshed = await refresh(tokens.refresh_token!);
        expect(refreshed.refresh_token).toBeTruthy();
        expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
        await expect(refresh(tokens.refresh_token!)).rejects.toMatchObject({
          error: 'invalid_grant',
        });
      },
      async logout() {
        const logoutState = oauth.generateRandomState();
        const url = new URL(as.end_session_endpoint!);
        url.search = new URLSearchParams({
          id_token_hint: tokens.id_token!,
          post_logout_redirect_uri: new URL('/', registered.redirectUri).href,
          state: logoutState,
        }).toString();
        const back = await confirmLogout(app, session, url);
        expect(back.searchParams.get('state')).toBe(logoutState);
        expect(await silentAuthError(app, session, registered)).toBe('login_required');
        return {
          note: 'the library has no end-session helper: the URL is built from `end_session_endpoint` in the discovery document, as RP-Initiated Logout 1.0 describes (its intended use, not a workaround).',
        };
      },
    };
  },
};
