// openid-client as a FAPI 2.0 relying party (security_profile fapi2): private_key_jwt, pushed
// authorization requests and DPoP, for the tests of systems allowed sensitive or agency-held data.
import { randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import type { TestApp } from './app.ts';
import type { BrowserSession } from './browser-session.ts';
import { registerClient, signIn } from './flows.ts';
import type { SoftAuthenticator } from './soft-authenticator.ts';

export type FapiRp = Awaited<ReturnType<typeof registerFapiRp>>;

/** Registers a fapi2 client (its own https host, so its own pairwise sector) and discovers it. */
export const registerFapiRp = async (app: TestApp, overrides: Record<string, unknown> = {}) => {
  const keys = await oidc.randomDPoPKeyPair('ES256');
  const kid = randomBytes(6).toString('hex');
  const publicJwk = await crypto.subtle.exportKey('jwk', keys.publicKey);
  const client = await registerClient(app, {
    redirect_uris: [`https://rp-${randomBytes(4).toString('hex')}.example.go.kr/cb`],
    security_profile: 'fapi2',
    token_endpoint_auth_method: 'private_key_jwt',
    jwks: { keys: [{ ...publicJwk, kid, alg: 'ES256', use: 'sig' }] },
    dpop_bound_access_tokens: true,
    ...overrides,
  });
  const config = await oidc.discovery(
    new URL(app.issuer),
    client.clientId,
    {},
    oidc.PrivateKeyJwt({ key: keys.privateKey, kid }),
    { execute: [oidc.allowInsecureRequests] },
  );
  const DPoP = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'));
  return { ...client, config, DPoP };
};

/** PAR, the passkey sign-in in `browser`, and the code at the token endpoint with DPoP. */
export const signInFapi = async (
  app: TestApp,
  rp: FapiRp,
  browser: BrowserSession,
  authenticator: SoftAuthenticator,
  params: Record<string, string>,
  /** Runs between the callback and the code exchange. */
  onCallback?: () => void,
) => {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = await oidc.buildAuthorizationUrlWithPAR(
    rp.config,
    {
      redirect_uri: rp.redirectUri,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
      ...params,
    },
    { DPoP: rp.DPoP },
  );
  const callback = await signIn(app, browser, authenticator, url);
  onCallback?.();
  const tokens = await oidc.authorizationCodeGrant(
    rp.config,
    new URL(callback),
    { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce },
    undefined,
    { DPoP: rp.DPoP },
  );
  return { config: rp.config, tokens, rp };
};

/** Userinfo with the RP's DPoP proof. */
export const fetchUserInfo = (rp: FapiRp, accessToken: string, sub: string) =>
  oidc.fetchUserInfo(rp.config, accessToken, sub, { DPoP: rp.DPoP });
