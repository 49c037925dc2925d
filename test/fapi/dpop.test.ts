// FAPI 2.0 with DPoP (RFC 9449): oauth4webapi completes PAR + private_key_jwt + PKCE with a
// passkey sign-in; the DPoP-bound token works at userinfo only with a fresh proof of its key, and
// introspection shows the binding (cnf.jkt). Each misuse is refused and nothing is issued.
import { randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, SignJWT } from 'jose';
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { createBrowserSession } from '../support/browser-session.ts';
import { enrolCitizen } from '../support/flows.ts';
import { createFapiRp, registerFapiClient, REDIRECT_URI } from './support.ts';

let app: TestApp;
let citizen: Awaited<ReturnType<typeof enrolCitizen>>;

beforeAll(async () => {
  app = await startTestApp();
  citizen = await enrolCitizen(app, { name: '박민지', birthdate: '1988-08-08' });
});
afterAll(() => app?.stop());

/** A DPoP proof built by hand (for the misuse cases oauth4webapi would never send). */
const proof = async (
  keys: CryptoKeyPair,
  claims: { htm: string; htu: string; accessToken?: string; jti?: string },
) => {
  const ath = claims.accessToken
    ? Buffer.from(
        await crypto.subtle.digest('SHA-256', new TextEncoder().encode(claims.accessToken)),
      ).toString('base64url')
    : undefined;
  return new SignJWT({
    htm: claims.htm,
    htu: claims.htu,
    jti: claims.jti ?? randomUUID(),
    ...(ath && { ath }),
  })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(keys.publicKey) })
    .setIssuedAt()
    .sign(keys.privateKey);
};

const userinfoWith = (accessToken: string, dpopProof?: string) =>
  fetch(`${app.issuer}/me`, {
    headers: {
      authorization: `DPoP ${accessToken}`,
      ...(dpopProof && { dpop: dpopProof }),
    },
  });

describe('FAPI 2.0 with DPoP-bound tokens', () => {
  let rp: Awaited<ReturnType<typeof createFapiRp>>;
  let accessToken: string;

  beforeAll(async () => {
    rp = await createFapiRp(app, await registerFapiClient(app));
    ({
      tokens: { access_token: accessToken },
    } = await rp.signInFully(citizen.authenticator));
  });

  it('completes PAR, the passkey sign-in and the code exchange; the token is DPoP-bound', async () => {
    const fapi = await registerFapiClient(app);
    const fresh = await createFapiRp(app, fapi);
    const { request, tokens } = await fresh.signInFully(citizen.authenticator);
    expect(tokens.token_type.toLowerCase()).toBe('dpop');
    // RFC 9207: the authorization response names its issuer.
    expect(request.callback.searchParams.get('iss')).toBe(app.issuer);
    const claims = oauth.getValidatedIdTokenClaims(tokens)!;
    expect(claims.acr).toBe('urn:one-id:loa:substantial');
    const info = await oauth.processUserInfoResponse(
      fresh.as,
      fapi.client,
      claims.sub,
      await oauth.userInfoRequest(fresh.as, fapi.client, tokens.access_token, {
        DPoP: fresh.dpop,
        [oauth.allowInsecureRequests]: true,
      }),
    );
    expect(info.name).toBe('박민지');
    const introspection = await fresh.introspect(tokens.access_token);
    expect(introspection.active).toBe(true);
    expect(introspection.cnf?.jkt).toBe(
      await calculateJwkThumbprint(await exportJWK(fresh.dpopKeys.publicKey)),
    );
    expect(introspection.token_type).toBe('DPoP');
  });

  it('refuses the token without its DPoP proof, and as a bearer token', async () => {
    const without = await userinfoWith(accessToken);
    // RFC 9449 7.1: a DPoP-scheme request without its proof is a bad request.
    expect(without.status).toBe(400);
    expect(without.headers.get('www-authenticate')).toMatch(/error="invalid_request"/);
    const bearer = await fetch(`${app.issuer}/me`, {
      headers: { authorization: `Bearer ${accessToken}` },
    });
    expect(bearer.status).toBe(401);
    expect(bearer.headers.get('www-authenticate')).toMatch(/invalid_token/);
  });

  it('refuses a proof signed with another key', async () => {
    const other = await oauth.generateKeyPair('ES256');
    const res = await userinfoWith(
      accessToken,
      await proof(other, { htm: 'GET', htu: `${app.issuer}/me`, accessToken }),
    );
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
  });

  it('refuses a replayed proof', async () => {
    const once = await proof(rp.dpopKeys, { htm: 'GET', htu: `${app.issuer}/me`, accessToken });
    expect((await userinfoWith(accessToken, once)).status).toBe(200);
    const again = await userinfoWith(accessToken, once);
    expect(again.status).toBe(401);
    // The engine does not say why (the proof was fine a moment ago: only its reuse differs).
    expect(again.headers.get('www-authenticate')).toMatch(/error="invalid_(token|dpop_proof)"/);
  });

  it('refuses a proof made for another URL', async () => {
    const res = await userinfoWith(
      accessToken,
      await proof(rp.dpopKeys, { htm: 'GET', htu: `${app.issuer}/token`, accessToken }),
    );
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/invalid_dpop_proof/);
  });

  it('refuses the code exchange without a DPoP proof: nothing is issued', async () => {
    const request = await rp.authorize(citizen.authenticator);
    const res = await rp.redeem(request, { dpop: undefined });
    expect(res.status).toBe(400);
    const body = await res.json();
    expect(body.error).toBe('invalid_grant');
    expect(body).not.toHaveProperty('access_token');
    // The same code with its proof: the missing proof was the only fault.
    expect((await rp.redeem(request)).status).toBe(200);
  });
});

describe('FAPI 2.0 refusals', () => {
  it('refuses a plain authorization request from a fapi2 client (PAR required)', async () => {
    const fapi = await registerFapiClient(app);
    const url = new URL(`${app.issuer}/auth`);
    for (const [name, value] of Object.entries({
      client_id: fapi.clientId,
      redirect_uri: REDIRECT_URI,
      response_type: 'code',
      scope: 'openid',
      state: 's1',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
    }))
      url.searchParams.set(name, value);
    const { url: landed } = await createBrowserSession().follow(url.toString(), app.issuer);
    const answer = new URL(landed);
    expect(answer.origin + answer.pathname).toBe(REDIRECT_URI);
    expect(answer.searchParams.get('error')).toBe('invalid_request');
    expect(answer.searchParams.get('error_description')).toMatch(/pushed authorization request/i);
    expect(answer.searchParams.has('code')).toBe(false);
  });

  it('refuses to register a fapi2 client with client_secret_basic, naming the rule', async () => {
    await expect(
      registerFapiClient(app, {
        token_endpoint_auth_method: 'client_secret_basic',
        jwks: undefined,
      }),
    ).rejects.toThrow(
      /token_endpoint_auth_method: security_profile fapi2 requires private_key_jwt/,
    );
  });

  it('refuses a fapi2 client without sender-constrained tokens, or with http redirect URIs', async () => {
    await expect(registerFapiClient(app, { dpop_bound_access_tokens: false })).rejects.toThrow(
      /security_profile fapi2 requires sender-constrained tokens/,
    );
    await expect(
      registerFapiClient(app, { redirect_uris: ['http://localhost:4000/cb'] }),
    ).rejects.toThrow(/redirect_uris: security_profile fapi2 requires https/);
  });

  it('gives codes at most 60 s, and refuses a code past that age: nothing is issued', async () => {
    const rp = await createFapiRp(app, await registerFapiClient(app));
    const request = await rp.authorize(citizen.authenticator);
    const code = request.callback.searchParams.get('code')!;
    const store = app.provider().AuthorizationCode.adapter;
    const stored = (await store.find(code))!;
    expect(stored.exp! - stored.iat!).toBeLessThanOrEqual(60);
    // The same code, 61 s later (the store keeps it: only its stated lifetime has run out).
    const now = Math.floor(Date.now() / 1000);
    await store.upsert(code, { ...stored, iat: now - 61, exp: now - 1 }, 60);
    const res = await rp.redeem(request);
    const body = await res.json();
    expect(res.status).toBe(400);
    expect(body.error).toBe('invalid_grant');
    expect(body).not.toHaveProperty('access_token');
  });
});
