// A FAPI 2.0 relying party driven by oauth4webapi: private_key_jwt, pushed authorization
// requests, PKCE S256 and DPoP-bound tokens, against the real app; the citizen signs in with a
// software passkey over HTTP (test/support/flows.ts).
import { randomBytes } from 'node:crypto';
import { exportJWK } from 'jose';
import * as oauth from 'oauth4webapi';
import type { TestApp } from '../support/app.ts';
import { createBrowserSession } from '../support/browser-session.ts';
import { DEFAULT_ALLOWANCES, signIn } from '../support/flows.ts';
import type { SoftAuthenticator } from '../support/soft-authenticator.ts';

export const REDIRECT_URI = 'https://rp.example.go.kr/cb';
const insecure = { [oauth.allowInsecureRequests]: true } as const;

/** An ES256 key pair whose public half is registered in the client's jwks (with a kid). */
export const clientKey = async () => {
  const pair = await oauth.generateKeyPair('ES256', { extractable: true });
  const kid = randomBytes(6).toString('hex');
  const jwk = { ...(await exportJWK(pair.publicKey)), kid, alg: 'ES256', use: 'sig' };
  return { pair, kid, jwk };
};

export type FapiClient = Awaited<ReturnType<typeof registerFapiClient>>;

/** A fapi2 client (private_key_jwt, DPoP-bound tokens unless told) registered through the client service. */
export const registerFapiClient = async (app: TestApp, overrides: Record<string, unknown> = {}) => {
  const key = await clientKey();
  const clientId = `fapi-${randomBytes(6).toString('hex')}`;
  await app.services.clients.addClient(
    {
      client_id: clientId,
      client_name: 'FAPI RP',
      agency: 'Test Agency',
      redirect_uris: [REDIRECT_URI],
      security_profile: 'fapi2',
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [key.jwk] },
      dpop_bound_access_tokens: true,
      allowed_claims: DEFAULT_ALLOWANCES,
      ...overrides,
    },
    'test',
  );
  return { clientId, key, client: { client_id: clientId } as oauth.Client };
};

export const discover = async (app: TestApp) => {
  const issuer = new URL(app.issuer);
  return oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
};

/** One RP session: PAR, the passkey sign-in, the code at the token endpoint with DPoP. */
/**
 * Pushes a PKCE S256 authorization request for REDIRECT_URI (PAR, RFC 9126) with `params` on top;
 * returns the browser URL and the verifier and state the callback is checked with.
 */
export const pushRequest = async (
  as: oauth.AuthorizationServer,
  client: oauth.Client,
  auth: oauth.ClientAuth,
  options: oauth.PushedAuthorizationRequestOptions,
  params: Record<string, string> = {},
) => {
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const pushed = await oauth.pushedAuthorizationRequest(
    as,
    client,
    auth,
    {
      redirect_uri: REDIRECT_URI,
      response_type: 'code',
      scope: 'openid profile',
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      ...params,
    },
    options,
  );
  const { request_uri } = await oauth.processPushedAuthorizationResponse(as, client, pushed);
  const url = new URL(as.authorization_endpoint!);
  url.searchParams.set('client_id', client.client_id);
  url.searchParams.set('request_uri', request_uri);
  return { url, verifier, state };
};

export const createFapiRp = async (app: TestApp, fapi: FapiClient) => {
  const as = await discover(app);
  const auth = oauth.PrivateKeyJwt({ key: fapi.key.pair.privateKey, kid: fapi.key.kid });
  const dpopKeys = await oauth.generateKeyPair('ES256', { extractable: true });
  const dpop = oauth.DPoP(fapi.client, dpopKeys);

  /** Pushes an authorization request; returns the browser URL and what the callback is checked with. */
  const push = async (params: Record<string, string> = {}) => {
    const nonce = oauth.generateRandomNonce();
    const request = await pushRequest(
      as,
      fapi.client,
      auth,
      { ...insecure, DPoP: dpop },
      { client_id: fapi.clientId, nonce, ...params },
    );
    return { ...request, nonce };
  };

  /** Pushes, signs the citizen in and returns the callback with what checks it. */
  const authorize = async (
    authenticator: SoftAuthenticator,
    params: Record<string, string> = {},
  ) => {
    const request = await push(params);
    const callback = await signIn(app, createBrowserSession(), authenticator, request.url);
    return { ...request, callback: new URL(callback) };
  };

  const redeem = async (
    request: { callback: URL; verifier: string; state: string },
    options: { dpop?: oauth.DPoPHandle | undefined } = { dpop },
  ) => {
    const params = oauth.validateAuthResponse(as, fapi.client, request.callback, request.state);
    return oauth.authorizationCodeGrantRequest(
      as,
      fapi.client,
      auth,
      params,
      REDIRECT_URI,
      request.verifier,
      { ...insecure, ...(options.dpop && { DPoP: options.dpop }) },
    );
  };

  /** The whole flow; returns the tokens (ID token checked by oauth4webapi). */
  const signInFully = async (authenticator: SoftAuthenticator) => {
    const request = await authorize(authenticator);
    const tokens = await oauth.processAuthorizationCodeResponse(
      as,
      fapi.client,
      await redeem(request),
      { expectedNonce: request.nonce, requireIdToken: true },
    );
    return { request, tokens };
  };

  /**
   * Pushes a signed request object (JAR), signs the citizen in and redeems the code from the JARM
   * answer, which oauth4webapi verifies (iss, aud, state) like the ID token (nonce).
   */
  const signInWithRequestObject = async (
    authenticator: SoftAuthenticator,
    request: string,
    checks: { verifier: string; state: string; nonce: string },
  ) => {
    const { request_uri } = await oauth.processPushedAuthorizationResponse(
      as,
      fapi.client,
      await oauth.pushedAuthorizationRequest(
        as,
        fapi.client,
        auth,
        { request },
        {
          ...insecure,
          DPoP: dpop,
        },
      ),
    );
    const url = new URL(as.authorization_endpoint!);
    url.searchParams.set('client_id', fapi.clientId);
    url.searchParams.set('request_uri', request_uri);
    const callback = new URL(await signIn(app, createBrowserSession(), authenticator, url));
    const answer = await oauth.validateJwtAuthResponse(
      as,
      fapi.client,
      callback,
      checks.state,
      insecure,
    );
    const tokens = await oauth.processAuthorizationCodeResponse(
      as,
      fapi.client,
      await oauth.authorizationCodeGrantRequest(
        as,
        fapi.client,
        auth,
        answer,
        REDIRECT_URI,
        checks.verifier,
        { ...insecure, DPoP: dpop },
      ),
      { expectedNonce: checks.nonce, requireIdToken: true },
    );
    return { callback, tokens };
  };

  const introspect = async (token: string) =>
    oauth.processIntrospectionResponse(
      as,
      fapi.client,
      await oauth.introspectionRequest(as, fapi.client, auth, token, insecure),
    );

  return {
    as,
    client: fapi.client,
    auth,
    dpop,
    dpopKeys,
    push,
    authorize,
    redeem,
    signInFully,
    signInWithRequestObject,
    introspect,
  };
};
