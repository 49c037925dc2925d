// FAPI 2.0 Security Profile self-check: the checks of the OpenID Foundation's
// fapi2-security-profile-final-test-plan (private_key_jwt, DPoP, unsigned PAR, openid_connect)
// that can run here, each named after its module, against a real One-ID with a passkey sign-in.
// docs/conformance.md lists what is covered and what is not.
import { randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, SignJWT } from 'jose';
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { createBrowserSession } from '../support/browser-session.ts';
import { enrolCitizen } from '../support/flows.ts';
import {
  createFapiRp,
  registerFapiClient,
  REDIRECT_URI,
  type FapiClient,
} from '../fapi/support.ts';

let app: TestApp;
let citizen: Awaited<ReturnType<typeof enrolCitizen>>;
let fapi: FapiClient;
let rp: Awaited<ReturnType<typeof createFapiRp>>;
const insecure = { [oauth.allowInsecureRequests]: true } as const;

beforeAll(async () => {
  app = await startTestApp();
  citizen = await enrolCitizen(app, { name: '한결' });
  fapi = await registerFapiClient(app);
  rp = await createFapiRp(app, fapi);
});
afterAll(() => app?.stop());

/** A pushed request with the given parameters changed (undefined leaves one out). */
const pushRaw = async (
  changes: Record<string, string | undefined>,
  client = fapi,
  auth = rp.auth,
) => {
  const verifier = oauth.generateRandomCodeVerifier();
  const all: Record<string, string | undefined> = {
    redirect_uri: REDIRECT_URI,
    response_type: 'code',
    scope: 'openid',
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    ...changes,
  };
  const params = Object.fromEntries(
    Object.entries(all).filter((e): e is [string, string] => e[1] !== undefined),
  );
  const res = await oauth.pushedAuthorizationRequest(rp.as, client.client, auth, params, insecure);
  return { res, body: (await res.json()) as Record<string, string> };
};

/** A DPoP proof built by hand (RFC 9449 4.2), for the misuses oauth4webapi never sends. */
const proof = async (keys: CryptoKeyPair, htm: string, htu: string, accessToken?: string) =>
  new SignJWT({
    htm,
    htu,
    jti: randomUUID(),
    ...(accessToken && {
      ath: Buffer.from(
        await crypto.subtle.digest('SHA-256', new TextEncoder().encode(accessToken)),
      ).toString('base64url'),
    }),
  })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(keys.publicKey) })
    .setIssuedAt()
    .sign(keys.privateKey);

const userinfo = (accessToken: string, dpop?: string) =>
  fetch(`${app.issuer}/me`, {
    headers: { authorization: `DPoP ${accessToken}`, ...(dpop && { dpop }) },
  });

const tokenError = async (res: Response) => {
  const body = (await res.json()) as Record<string, string>;
  expect(body).not.toHaveProperty('access_token');
  return body.error;
};

describe('fapi2-security-profile-final-test-plan (self-check)', () => {
  it('fapi2-security-profile-final-discovery-end-point-verification', () => {
    const d = rp.as;
    expect(d.issuer).toBe(app.issuer);
    expect(d.pushed_authorization_request_endpoint).toBe(`${app.issuer}/request`);
    expect(d.authorization_response_iss_parameter_supported).toBe(true);
    expect(d.code_challenge_methods_supported).toEqual(['S256']);
    expect(d.response_types_supported).toEqual(['code']);
    expect(d.token_endpoint_auth_methods_supported).toContain('private_key_jwt');
    expect(d.token_endpoint_auth_signing_alg_values_supported).toEqual(
      expect.arrayContaining(['ES256', 'PS256']),
    );
    expect(d.dpop_signing_alg_values_supported).toEqual(expect.arrayContaining(['ES256', 'PS256']));
    expect(d.id_token_signing_alg_values_supported).toContain('ES256');
  });

  it('fapi2-security-profile-final-happy-flow', async () => {
    const { tokens, request } = await rp.signInFully(citizen.authenticator);
    expect(request.callback.searchParams.get('iss')).toBe(app.issuer);
    expect(tokens.token_type.toLowerCase()).toBe('dpop');
    expect(oauth.getValidatedIdTokenClaims(tokens)!.iss).toBe(app.issuer);
  });

  it('fapi2-security-profile-final-ensure-unsigned-authorization-request-without-using-par-fails', async () => {
    const url = new URL(rp.as.authorization_endpoint!);
    for (const [k, v] of Object.entries({
      client_id: fapi.clientId,
      redirect_uri: REDIRECT_URI,
      response_type: 'code',
      scope: 'openid',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
    }))
      url.searchParams.set(k, v);
    const { url: landed } = await createBrowserSession().follow(url.toString(), app.issuer);
    expect(new URL(landed).searchParams.get('error')).toBe('invalid_request');
  });

  it('fapi2-security-profile-final-par-ensure-pkce-required', async () => {
    const { res, body } = await pushRaw({
      code_challenge: undefined,
      code_challenge_method: undefined,
    });
    expect(res.status).toBe(400);
    expect(body.error).toBe('invalid_request');
  });

  it('fapi2-security-profile-final-par-plain-pkce-rejected', async () => {
    const { res, body } = await pushRaw({
      code_challenge: 'a'.repeat(43),
      code_challenge_method: 'plain',
    });
    expect(res.status).toBe(400);
    expect(body.error).toBe('invalid_request');
  });

  it('fapi2-security-profile-final-ensure-response-type-code-idtoken-fails', async () => {
    const { res, body } = await pushRaw({ response_type: 'code id_token', nonce: 'n1' });
    expect(res.status).toBe(400);
    expect(body.error).toMatch(/unsupported_response_type|unauthorized_client|invalid_request/);
  });

  it('fapi2-security-profile-final-ensure-response-type-token-fails', async () => {
    const { res, body } = await pushRaw({ response_type: 'token' });
    expect(res.status).toBe(400);
    expect(body.error).toMatch(/unsupported_response_type|unauthorized_client|invalid_request/);
  });

  it('fapi2-security-profile-final-ensure-invalid-client-assertions-fail', async () => {
    const wrongAudience = oauth.PrivateKeyJwt(
      { key: fapi.key.pair.privateKey, kid: fapi.key.kid },
      {
        [oauth.modifyAssertion]: (_header, payload) => {
          payload.aud = `${app.issuer}/request`;
        },
      },
    );
    const { res, body } = await pushRaw({}, fapi, wrongAudience);
    expect(res.status).toBe(401);
    expect(body.error).toBe('invalid_client');
  });

  it('fapi2-security-profile-final-par-attempt-reuse-request_uri', async () => {
    const request = await rp.authorize(citizen.authenticator);
    expect(request.callback.searchParams.has('code')).toBe(true);
    const { url: landed } = await createBrowserSession().follow(request.url.toString(), app.issuer);
    expect(landed.startsWith(app.issuer) || new URL(landed).searchParams.has('error')).toBe(true);
    expect(new URL(landed).searchParams.has('code')).toBe(false);
  });

  it('fapi2-security-profile-final-par-attempt-to-use-request_uri-for-different-client', async () => {
    const other = await registerFapiClient(app);
    const request = await rp.push();
    const url = new URL(request.url);
    url.searchParams.set('client_id', other.clientId);
    const { url: landed } = await createBrowserSession().follow(url.toString(), app.issuer);
    expect(new URL(landed).searchParams.has('code')).toBe(false);
  });

  it('fapi2-security-profile-final-ensure-authorization-code-is-bound-to-client', async () => {
    const other = await createFapiRp(app, await registerFapiClient(app));
    const request = await rp.authorize(citizen.authenticator);
    const params = oauth.validateAuthResponse(rp.as, fapi.client, request.callback, request.state);
    // The other client, authenticated as itself, presents this client's code.
    const form = new URLSearchParams({
      grant_type: 'authorization_code',
      code: params.get('code')!,
      redirect_uri: REDIRECT_URI,
      code_verifier: request.verifier,
    });
    const stolen = await oauth.genericTokenEndpointRequest(
      other.as,
      other.client,
      other.auth,
      'authorization_code',
      form,
      { ...insecure, DPoP: other.dpop },
    );
    expect(stolen.status).toBe(400);
    expect(await tokenError(stolen)).toBe('invalid_grant');
  });

  it('fapi2-security-profile-final-incorrect-pkce-code-verifier-rejected', async () => {
    const request = await rp.authorize(citizen.authenticator);
    const res = await rp.redeem({ ...request, verifier: oauth.generateRandomCodeVerifier() });
    expect(res.status).toBe(400);
    expect(await tokenError(res)).toBe('invalid_grant');
  });

  it('fapi2-security-profile-final-attempt-reuse-authorization-code-after-one-second', async () => {
    const request = await rp.authorize(citizen.authenticator);
    expect((await rp.redeem(request)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const again = await rp.redeem(request);
    expect(again.status).toBe(400);
    expect(await tokenError(again)).toBe('invalid_grant');
  });

  it('fapi2-security-profile-final-ensure-holder-of-key-required', async () => {
    const request = await rp.authorize(citizen.authenticator);
    const res = await rp.redeem(request, { dpop: undefined });
    expect(res.status).toBe(400);
    expect(await tokenError(res)).toBe('invalid_grant');
  });

  it('fapi2-security-profile-final-ensure-token-endpoint-fails-with-expired-auth-code', async () => {
    const request = await rp.authorize(citizen.authenticator);
    const code = request.callback.searchParams.get('code')!;
    const store = app.provider().AuthorizationCode.adapter;
    const stored = (await store.find(code))!;
    const now = Math.floor(Date.now() / 1000);
    await store.upsert(code, { ...stored, iat: now - 61, exp: now - 1 }, 60);
    const res = await rp.redeem(request);
    expect(res.status).toBe(400);
    expect(await tokenError(res)).toBe('invalid_grant');
  });

  it('fapi2-security-profile-final-refresh-token', async () => {
    const { tokens } = await rp.signInFully(citizen.authenticator);
    expect(tokens.refresh_token).toBeTruthy();
    const refreshed = await oauth.processRefreshTokenResponse(
      rp.as,
      fapi.client,
      await oauth.refreshTokenGrantRequest(rp.as, fapi.client, rp.auth, tokens.refresh_token!, {
        ...insecure,
        DPoP: rp.dpop,
      }),
    );
    expect(refreshed.token_type.toLowerCase()).toBe('dpop');
    // FAPI 2.0 SP 5.3.2.1: not rotated; the same refresh token keeps working.
    expect(refreshed.refresh_token ?? tokens.refresh_token).toBe(tokens.refresh_token);
  });

  it('fapi2-security-profile-final-dpop-negative-tests', async () => {
    const { tokens } = await rp.signInFully(citizen.authenticator);
    const token = tokens.access_token;
    const me = `${app.issuer}/me`;
    // Without its proof; as a bearer token.
    expect((await userinfo(token)).status).toBe(400);
    const bearer = await fetch(me, { headers: { authorization: `Bearer ${token}` } });
    expect(bearer.status).toBe(401);
    // A proof signed with another key.
    const other = await oauth.generateKeyPair('ES256');
    const stolen = await userinfo(token, await proof(other, 'GET', me, token));
    expect(stolen.status).toBe(401);
    expect(stolen.headers.get('www-authenticate')).toMatch(/invalid_token/);
    // A proof made for another URL, and for another method.
    const elsewhere = await userinfo(token, await proof(rp.dpopKeys, 'GET', `${me}x`, token));
    expect(elsewhere.headers.get('www-authenticate')).toMatch(/invalid_dpop_proof/);
    const post = await userinfo(token, await proof(rp.dpopKeys, 'POST', me, token));
    expect(post.headers.get('www-authenticate')).toMatch(/invalid_dpop_proof/);
    // A proof without the token's hash (ath).
    const noAth = await userinfo(token, await proof(rp.dpopKeys, 'GET', me));
    expect(noAth.status).toBe(401);
    // A replayed proof: good once, refused the second time.
    const once = await proof(rp.dpopKeys, 'GET', me, token);
    expect((await userinfo(token, once)).status).toBe(200);
    expect((await userinfo(token, once)).status).toBe(401);
  });

  it('fapi2-security-profile-final-ensure-dpopproof-at-par-endpoint-binding-success', async () => {
    // The pushed request carries a DPoP proof (createFapiRp), which binds the code to its key.
    const { tokens } = await rp.signInFully(citizen.authenticator);
    const introspection = await rp.introspect(tokens.access_token);
    expect(introspection.cnf?.jkt).toBeTruthy();
  });

  it('fapi2-security-profile-final-ensure-token-endpoint-fails-with-mismatched-dpop-proof-jkt', async () => {
    // The pushed request was bound to the RP's DPoP key; the code is redeemed with another key.
    const request = await rp.authorize(citizen.authenticator);
    const otherKey = oauth.DPoP(fapi.client, await oauth.generateKeyPair('ES256'));
    const res = await rp.redeem(request, { dpop: otherKey });
    expect(res.status).toBe(400);
    expect(await tokenError(res)).toBe('invalid_grant');
  });

  it('fapi2-security-profile-final-ensure-mismatched-dpop-jkt-fails', async () => {
    // dpop_jkt names one key while the pushed request's DPoP proof is made with another.
    const other = await oauth.generateKeyPair('ES256', { extractable: true });
    const jkt = await calculateJwkThumbprint(await exportJWK(other.publicKey));
    const res = await oauth.pushedAuthorizationRequest(
      rp.as,
      fapi.client,
      rp.auth,
      {
        redirect_uri: REDIRECT_URI,
        response_type: 'code',
        scope: 'openid',
        code_challenge: await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier()),
        code_challenge_method: 'S256',
        dpop_jkt: jkt,
      },
      { ...insecure, DPoP: rp.dpop },
    );
    expect(res.status).toBe(400);
    const body = (await res.json()) as Record<string, string>;
    expect(body.error).toBe('invalid_request');
    expect(body).not.toHaveProperty('request_uri');
  });

  it('fapi2-security-profile-final-ensure-client-id-in-token-endpoint', async () => {
    // Another client's id, authenticated with this client's key: the assertion is not its own.
    const other = await registerFapiClient(app);
    const request = await rp.authorize(citizen.authenticator);
    const wrongClient = { client_id: other.clientId } as oauth.Client;
    const res = await oauth.authorizationCodeGrantRequest(
      rp.as,
      wrongClient,
      oauth.PrivateKeyJwt({ key: fapi.key.pair.privateKey, kid: fapi.key.kid }),
      oauth.validateAuthResponse(rp.as, fapi.client, request.callback, request.state),
      REDIRECT_URI,
      request.verifier,
      { ...insecure, DPoP: rp.dpop },
    );
    expect(res.status).toBe(401);
    expect(await tokenError(res)).toBe('invalid_client');
  });

  it('(no suite module) a fapi2 client with client_secret_basic is refused at registration', async () => {
    // The suite cannot register such a client; the profile refuses it before any request.
    await expect(
      registerFapiClient(app, {
        token_endpoint_auth_method: 'client_secret_basic',
        jwks: undefined,
      }),
    ).rejects.toThrow(
      /token_endpoint_auth_method: security_profile fapi2 requires private_key_jwt/,
    );
  });
});
