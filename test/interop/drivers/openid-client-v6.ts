// openid-client v6 (panva), the library the agency example uses: discovery(), buildAuthorizationUrl,
// authorizationCodeGrant, fetchUserInfo, refreshTokenGrant, buildEndSessionUrl.
import * as oidc from 'openid-client';
import { expect } from 'vitest';
import { createBrowserSession } from '../../support/browser-session.ts';
import { signIn } from '../../support/flows.ts';
import {
  expectConsentedUserinfo,
  expectOneIdIdToken,
  type Driver,
  type Flow,
  type InteropEnv,
} from '../harness.ts';
import { confirmLogout, silentAuthError } from '../support.ts';

export const openidClientV6: Driver = {
  packageName: 'openid-client',
  displayName: 'openid-client',
  clientAuth: 'client_secret_basic',
  notes: [
    'Used exactly as its README shows; `oidc.enableNonRepudiationChecks(config)` makes it also verify the ID token signature from the token endpoint (by default it relies on TLS, as OIDC Core 3.1.3.7 allows).',
    'The test issuer is `http://localhost`, so `execute: [oidc.allowInsecureRequests]` is passed to `discovery()`; production One-ID is https and needs no such option.',
  ],
  async start(env) {
    const client = await env.register();
    return openidClientFlow(env, client, async () =>
      oidc.discovery(new URL(env.app.issuer), client.clientId, client.clientSecret, undefined, {
        execute: [oidc.allowInsecureRequests],
      }),
    );
  },
};

/**
 * The journey with openid-client once `connect` has produced its configuration (discovery, or
 * dynamic registration in openid-client-dcr.ts); `client.clientId` is read after it ran.
 */
export const openidClientFlow = (
  { app, citizen }: InteropEnv,
  client: { clientId: string; redirectUri: string },
  connect: () => Promise<oidc.Configuration>,
): Flow => {
  const session = createBrowserSession();
  let config: oidc.Configuration;
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  let callback: URL;
  let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
  let sub: string;
  return {
    async discovery() {
      config = await connect();
      oidc.enableNonRepudiationChecks(config);
      expect(config.serverMetadata().issuer).toBe(app.issuer);
    },
    async authorize() {
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: client.redirectUri,
        scope: 'openid profile email',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
        nonce,
      });
      callback = new URL(await signIn(app, session, citizen.authenticator, url));
      expect(callback.searchParams.get('code')).toBeTruthy();
    },
    async token() {
      tokens = await oidc.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: verifier,
        expectedState: state,
        expectedNonce: nonce,
        idTokenExpected: true,
      });
      expect(tokens.access_token).toBeTruthy();
      expect(tokens.refresh_token).toBeTruthy();
    },
    async idToken() {
      const claims = tokens.claims()!;
      expectOneIdIdToken(expect, claims, {
        issuer: app.issuer,
        clientId: client.clientId,
        accountId: citizen.accountId,
        nonce,
      });
      sub = claims.sub;
    },
    async userinfo() {
      expectConsentedUserinfo(
        expect,
        await oidc.fetchUserInfo(config, tokens.access_token, sub),
        citizen,
        sub,
      );
    },
    async refresh() {
      const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
      expect(refreshed.refresh_token).toBeTruthy();
      expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
      expect(refreshed.claims()?.sub).toBe(sub);
      await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({
        error: 'invalid_grant',
      });
    },
    async logout() {
      const logoutState = oidc.randomState();
      const url = oidc.buildEndSessionUrl(config, {
        id_token_hint: tokens.id_token!,
        post_logout_redirect_uri: new URL('/', client.redirectUri).href,
        state: logoutState,
      });
      const back = await confirmLogout(app, session, url);
      expect(back.searchParams.get('state')).toBe(logoutState);
      expect(await silentAuthError(app, session, client)).toBe('login_required');
    },
  };
};
