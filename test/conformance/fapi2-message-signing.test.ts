// FAPI 2.0 Message Signing self-check: the request-object modules of the OpenID Foundation's
// fapi2-security-profile-final-test-plan run with fapi_request_method=signed_non_repudiation and
// fapi_response_mode=jarm, each named after its module, for a fapi2 client with the signing
// option on (require_signed_request_object). docs/conformance.md lists what is covered.
import { SignJWT, UnsecuredJWT, type JWTPayload } from 'jose';
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { enrolCitizen } from '../support/flows.ts';
import {
  clientKey,
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
  citizen = await enrolCitizen(app, { name: '서지안' });
  fapi = await registerFapiClient(app, { require_signed_request_object: true });
  Object.assign(fapi.client, { authorization_signed_response_alg: 'ES256' });
  rp = await createFapiRp(app, fapi);
});
afterAll(() => app?.stop());

const authorizationParams = async () => {
  const verifier = oauth.generateRandomCodeVerifier();
  return {
    verifier,
    params: {
      client_id: fapi.clientId,
      redirect_uri: REDIRECT_URI,
      response_type: 'code',
      response_mode: 'jwt',
      scope: 'openid',
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: oauth.generateRandomState(),
      nonce: oauth.generateRandomNonce(),
    } as Record<string, string>,
  };
};

/** A request object signed with the client's key, its claims changed by `edit`. */
const requestObject = async (
  params: Record<string, string>,
  edit: (claims: JWTPayload) => JWTPayload = (c) => c,
  key: CryptoKey = fapi.key.pair.privateKey,
  alg = 'ES256',
) => {
  const now = Math.floor(Date.now() / 1000);
  const claims = edit({
    ...params,
    iss: fapi.clientId,
    aud: app.issuer,
    iat: now,
    nbf: now,
    exp: now + 300,
  });
  return new SignJWT(claims).setProtectedHeader({ alg, kid: fapi.key.kid }).sign(key);
};

const push = (body: Record<string, string>) =>
  oauth.pushedAuthorizationRequest(rp.as, fapi.client, rp.auth, body, {
    ...insecure,
    DPoP: rp.dpop,
  });

/** Refused at the PAR endpoint, with nothing to continue with. */
const expectRefused = async (res: Response, error = 'invalid_request_object') => {
  const body = (await res.json()) as Record<string, string>;
  expect(res.status, JSON.stringify(body)).toBe(400);
  expect(body.error).toBe(error);
  expect(body).not.toHaveProperty('request_uri');
};

describe('fapi2-security-profile-final-test-plan [signed_non_repudiation, jarm] (self-check)', () => {
  it('fapi2-security-profile-final-happy-flow', async () => {
    const { verifier, params } = await authorizationParams();
    // JARM: the response is a JWT signed by One-ID, verified (iss, aud, state) by oauth4webapi.
    const { tokens } = await rp.signInWithRequestObject(
      citizen.authenticator,
      await requestObject(params),
      { verifier, state: params.state!, nonce: params.nonce! },
    );
    expect(tokens.token_type.toLowerCase()).toBe('dpop');
  });

  it('fapi2-security-profile-final-ensure-unsigned-request-at-par-endpoint-fails', async () => {
    const { params } = await authorizationParams();
    await expectRefused(await push(params), 'invalid_request');
  });

  it('fapi2-security-profile-final-ensure-request-object-signature-algorithm-is-not-none', async () => {
    const { params } = await authorizationParams();
    const now = Math.floor(Date.now() / 1000);
    const unsigned = new UnsecuredJWT({
      ...params,
      iss: fapi.clientId,
      aud: app.issuer,
      nbf: now,
      exp: now + 300,
    }).encode();
    await expectRefused(await push({ request: unsigned }));
  });

  it('fapi2-security-profile-final-ensure-signed-request-object-with-RS256-fails', async () => {
    const { params } = await authorizationParams();
    const rsa = await oauth.generateKeyPair('RS256');
    await expectRefused(
      await push({ request: await requestObject(params, (c) => c, rsa.privateKey, 'RS256') }),
    );
  });

  it('fapi2-security-profile-final-ensure-request-object-with-invalid-signature-fails', async () => {
    const { params } = await authorizationParams();
    const other = await clientKey();
    await expectRefused(
      await push({ request: await requestObject(params, (c) => c, other.pair.privateKey) }),
    );
  });

  it('fapi2-security-profile-final-ensure-request-object-without-exp-fails', async () => {
    const { params } = await authorizationParams();
    const request = await requestObject(params, ({ exp: _exp, ...c }) => c);
    await expectRefused(await push({ request }));
  });

  it('fapi2-security-profile-final-ensure-request-object-without-nbf-fails', async () => {
    const { params } = await authorizationParams();
    const request = await requestObject(params, ({ nbf: _nbf, ...c }) => c);
    await expectRefused(await push({ request }));
  });

  it('fapi2-security-profile-final-ensure-expired-request-object-fails', async () => {
    const { params } = await authorizationParams();
    const now = Math.floor(Date.now() / 1000);
    const request = await requestObject(params, (c) => ({
      ...c,
      iat: now - 600,
      nbf: now - 600,
      exp: now - 300,
    }));
    await expectRefused(await push({ request }));
  });

  it('fapi2-security-profile-final-ensure-request-object-with-bad-aud-fails', async () => {
    const { params } = await authorizationParams();
    const request = await requestObject(params, (c) => ({ ...c, aud: 'https://other.example' }));
    await expectRefused(await push({ request }));
  });

  it('fapi2-security-profile-final-ensure-request-object-with-exp-over-60-fails', async () => {
    // FAPI 2.0 MS 5.3.1: exp no more than 60 minutes after nbf.
    const { params } = await authorizationParams();
    const now = Math.floor(Date.now() / 1000);
    const request = await requestObject(params, (c) => ({ ...c, nbf: now, exp: now + 3700 }));
    await expectRefused(await push({ request }));
  });

  it('fapi2-security-profile-final-ensure-request-object-without-redirect-uri-fails', async () => {
    const { params } = await authorizationParams();
    const request = await requestObject(params, ({ redirect_uri: _uri, ...c }) => c);
    const res = await push({ request });
    expect(res.status).toBe(400);
    expect(((await res.json()) as Record<string, string>).error).toMatch(/invalid_request/);
  });

  it('fapi2-security-profile-final-ensure-matching-key-in-authorization-request', async () => {
    // A request object for this client signed with another fapi2 client's registered key.
    const other = await registerFapiClient(app);
    const { params } = await authorizationParams();
    await expectRefused(
      await push({ request: await requestObject(params, (c) => c, other.key.pair.privateKey) }),
    );
  });
});
