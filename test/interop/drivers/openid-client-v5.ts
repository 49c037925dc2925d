// openid-client v5 (the legacy Issuer/Client API that many agency systems still run), installed
// under the alias openid-client-v5: Issuer.discover, client.authorizationUrl, client.callback,
// client.userinfo, client.refresh, client.endSessionUrl.
import { generators, Issuer } from 'openid-client-v5';
import { expect } from 'vitest';
import { createBrowserSession } from '../../support/browser-session.ts';
import { signIn } from '../../support/flows.ts';
import { expectConsentedUserinfo, expectOneIdIdToken, type Driver } from '../harness.ts';
import { confirmLogout, silentAuthError } from '../support.ts';

export const openidClientV5: Driver = {
  packageName: 'openid-client-v5',
  displayName: 'openid-client (v5, legacy API)',
  clientAuth: 'client_secret_basic',
  notes: [
    'v5 expects RS256 ID tokens unless told otherwise, and One-ID signs with **ES256** by default: set `id_token_signed_response_alg: \'ES256\'` in the `new issuer.Client({...})` metadata (done here), or register the system with `"id_token_signed_response_alg": "RS256"`. Without either, `client.callback()` fails with "unexpected JWT alg received, expected RS256, got: ES256" (checked below).',
    'v5 always verifies the ID token signature against the JWKS and checks the `iss` authorization response parameter that One-ID sends.',
  ],
  async start({ app, citizen, register }) {
    const registered = await register();
    const session = createBrowserSession();
    const postLogout = new URL('/', registered.redirectUri).href;
    let client: InstanceType<Issuer['Client']>;
    const codeVerifier = generators.codeVerifier();
    const state = generators.state();
    const nonce = generators.nonce();
    let callback: string;
    let tokenSet: Awaited<ReturnType<typeof client.callback>>;
    let sub: string;
    return {
      async discovery() {
        const issuer = await Issuer.discover(app.issuer);
        expect(issuer.metadata.issuer).toBe(app.issuer);
        client = new issuer.Client({
          client_id: registered.clientId,
          client_secret: registered.clientSecret!,
          redirect_uris: [registered.redirectUri],
          post_logout_redirect_uris: [postLogout],
          response_types: ['code'],
          id_token_signed_response_alg: 'ES256',
        });
      },
      async authorize() {
        const url = client.authorizationUrl({
          scope: 'openid profile email',
          code_challenge: generators.codeChallenge(codeVerifier),
          code_challenge_method: 'S256',
          state,
          nonce,
        });
        callback = await signIn(app, session, citizen.authenticator, new URL(url));
      },
      async token() {
        tokenSet = await client.callback(registered.redirectUri, client.callbackParams(callback), {
          code_verifier: codeVerifier,
          state,
          nonce,
        });
        expect(tokenSet.access_token).toBeTruthy();
      },
      async idToken() {
        const claims = tokenSet.claims();
        expectOneIdIdToken(expect, claims, {
          issuer: app.issuer,
          clientId: registered.clientId,
          accountId: citizen.accountId,
          nonce,
        });
        sub = claims.sub;
      },
      async userinfo() {
        expectConsentedUserinfo(expect, await client.userinfo(tokenSet), citizen, sub);
      },
      async refresh() {
        const refreshed = await client.refresh(tokenSet.refresh_token!);
        expect(refreshed.refresh_token).toBeTruthy();
        expect(refreshed.refresh_token).not.toBe(tokenSet.refresh_token);
        await expect(client.refresh(tokenSet.refresh_token!)).rejects.toMatchObject({
          error: 'invalid_grant',
        });
      },
      async logout() {
        const logoutState = generators.state();
        const back = await confirmLogout(
          app,
          session,
          client.endSessionUrl({
            id_token_hint: tokenSet.id_token!,
            post_logout_redirect_uri: postLogout,
            state: logoutState,
          }),
        );
        expect(back.searchParams.get('state')).toBe(logoutState);
        expect(await silentAuthError(app, session, registered)).toBe('login_required');
      },
    };
  },
  checks: [
    {
      name: "without id_token_signed_response_alg, v5 refuses One-ID's ES256 ID token (configuration pitfall)",
      async run({ app, citizen, register }) {
        const registered = await register();
        const issuer = await Issuer.discover(app.issuer);
        const client = new issuer.Client({
          client_id: registered.clientId,
          client_secret: registered.clientSecret!,
          redirect_uris: [registered.redirectUri],
          response_types: ['code'],
        });
        const codeVerifier = generators.codeVerifier();
        const url = client.authorizationUrl({
          scope: 'openid',
          code_challenge: generators.codeChallenge(codeVerifier),
          code_challenge_method: 'S256',
          state: 's',
          nonce: 'n',
        });
        const callback = await signIn(
          app,
          createBrowserSession(),
          citizen.authenticator,
          new URL(url),
        );
        await expect(
          client.callback(registered.redirectUri, client.callbackParams(callback), {
            code_verifier: codeVerifier,
            state: 's',
            nonce: 'n',
          }),
        ).rejects.toThrow(/unexpected JWT alg received, expected RS256, got: ES256/);
      },
    },
  ],
};
