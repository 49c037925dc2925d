// FAPI 2.0 Message Signing: a fapi2 client that requires signed request objects pushes a JAR
// (RFC 9101) through PAR, receives a signed authorization response (JARM), and reads signed
// userinfo and signed introspection (RFC 9701), all verified by oauth4webapi. An unsigned request
// object, or none, is refused and nothing is issued.
import { SignJWT, UnsecuredJWT } from 'jose';
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { enrolCitizen } from '../support/flows.ts';
import { createFapiRp, registerFapiClient, REDIRECT_URI, type FapiClient } from './support.ts';

let app: TestApp;
let citizen: Awaited<ReturnType<typeof enrolCitizen>>;
let fapi: FapiClient;
let rp: Awaited<ReturnType<typeof createFapiRp>>;
const insecure = { [oauth.allowInsecureRequests]: true } as const;

beforeAll(async () => {
  app = await startTestApp();
  citizen = await enrolCitizen(app, { name: '정하늘' });
  fapi = await registerFapiClient(app, {
    require_signed_request_object: true,
    userinfo_signed_response_alg: 'ES256',
  });
  Object.assign(fapi.client, {
    userinfo_signed_response_alg: 'ES256',
    introspection_signed_response_alg: 'ES256',
    authorization_signed_response_alg: 'ES256',
  });
  rp = await createFapiRp(app, fapi);
});
afterAll(() => app?.stop());

const params = async (extra: Record<string, string> = {}) => {
  const verifier = oauth.generateRandomCodeVerifier();
  return {
    verifier,
    params: {
      client_id: fapi.clientId,
      redirect_uri: REDIRECT_URI,
      response_type: 'code',
      response_mode: 'jwt',
      scope: 'openid profile',
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: oauth.generateRandomState(),
      nonce: oauth.generateRandomNonce(),
      ...extra,
    },
  };
};

const push = (body: Record<string, string>) =>
  oauth.pushedAuthorizationRequest(rp.as, fapi.client, rp.auth, body, {
    ...insecure,
    DPoP: rp.dpop,
  });

describe('FAPI 2.0 Message Signing', () => {
  it('accepts a signed request object through PAR and answers with JARM, signed userinfo and introspection', async () => {
    const { verifier, params: p } = await params();
    const jar = await oauth.issueRequestObject(rp.as, fapi.client, p, {
      key: fapi.key.pair.privateKey,
      kid: fapi.key.kid,
    });
    const { callback, tokens } = await rp.signInWithRequestObject(citizen.authenticator, jar, {
      verifier,
      ...p,
    });
    // JARM: the code arrives inside a JWT signed by One-ID (ES256), not as a plain parameter.
    expect(callback.searchParams.has('code')).toBe(false);
    expect(callback.searchParams.has('response')).toBe(true);
    const sub = oauth.getValidatedIdTokenClaims(tokens)!.sub;
    const userinfo = await oauth.userInfoRequest(rp.as, fapi.client, tokens.access_token, {
      ...insecure,
      DPoP: rp.dpop,
    });
    expect(userinfo.headers.get('content-type')).toMatch(/application\/jwt/);
    const info = await oauth.processUserInfoResponse(rp.as, fapi.client, sub, userinfo);
    // The signature, checked against One-ID's JWKS (oauth4webapi leaves this to the caller).
    await oauth.validateApplicationLevelSignature(rp.as, userinfo, insecure);
    expect(info.name).toBe('정하늘');
    const introspection = await oauth.introspectionRequest(
      rp.as,
      fapi.client,
      rp.auth,
      tokens.access_token,
      { ...insecure, requestJwtResponse: true },
    );
    expect(introspection.headers.get('content-type')).toMatch(/token-introspection\+jwt/);
    const claims = await oauth.processIntrospectionResponse(rp.as, fapi.client, introspection);
    await oauth.validateApplicationLevelSignature(rp.as, introspection, insecure);
    expect(claims.active).toBe(true);
    expect(claims.cnf?.jkt).toBeTruthy();
  });

  it('refuses an unsigned request object, and a pushed request without one', async () => {
    const { params: p } = await params();
    const unsigned = new UnsecuredJWT({ ...p, aud: app.issuer, iss: fapi.clientId })
      .setIssuedAt()
      .setNotBefore('0s')
      .setExpirationTime('5m')
      .encode();
    const refused = await push({ request: unsigned });
    expect(refused.status).toBe(400);
    const body = await refused.json();
    expect(body.error).toBe('invalid_request_object');
    expect(body).not.toHaveProperty('request_uri');
    const plain = await push(p);
    expect(plain.status).toBe(400);
    expect(await plain.json()).toMatchObject({
      error: 'invalid_request',
      error_description: expect.stringMatching(/Request Object must be used/),
    });
  });

  it('refuses a request object signed with RS256 (FAPI 2.0 allows ES256 and PS256)', async () => {
    const rsa = await oauth.generateKeyPair('RS256');
    const { params: p } = await params();
    const jar = await new SignJWT({ ...p })
      .setProtectedHeader({ alg: 'RS256', kid: fapi.key.kid })
      .setIssuer(fapi.clientId)
      .setAudience(app.issuer)
      .setIssuedAt()
      .setNotBefore('0s')
      .setExpirationTime('5m')
      .sign(rsa.privateKey);
    const res = await push({ request: jar });
    expect(res.status).toBe(400);
    expect((await res.json()).error).toBe('invalid_request_object');
  });
});
