// OpenID Foundation "Config OP" certification profile: the discovery document, the JWKS it
// points to, and signing-key rotation seen through them (OpenID Connect Discovery 1.0).
import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../support/app.ts';
import { createBrowserSession } from '../support/browser-session.ts';
import { enrolCitizen, signIn } from '../support/flows.ts';
import { startOneId } from '../interop/support.ts';
import { createRp, discovery, type Discovery } from './support.ts';

let app: TestApp;
let meta: Discovery;

beforeAll(async () => {
  app = await startOneId();
  meta = await discovery(app);
});
afterAll(() => app?.stop());

type Jwk = Record<string, unknown> & { kid: string; kty: string; alg: string; use?: string };
const jwks = async () => ((await (await fetch(meta.jwks_uri)).json()) as { keys: Jwk[] }).keys;

describe('Config OP', () => {
  it('OP-Discovery-Config: the configuration is served as JSON with the required metadata', async () => {
    const res = await fetch(`${app.issuer}/.well-known/openid-configuration`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    // Discovery 4.3: the issuer is exactly the URL the configuration was fetched from.
    expect(meta.issuer).toBe(app.issuer);
    for (const field of [
      'authorization_endpoint',
      'token_endpoint',
      'userinfo_endpoint',
      'jwks_uri',
      'end_session_endpoint',
      'revocation_endpoint',
      'introspection_endpoint',
    ]) {
      expect(new URL(String(meta[field])).origin, field).toBe(app.issuer);
    }
    expect(meta.response_types_supported).toEqual(['code']);
    expect(meta.subject_types_supported).toEqual(['pairwise']);
    // Discovery 3: RS256 MUST be listed; One-ID signs with ES256 by default.
    expect(meta.id_token_signing_alg_values_supported).toEqual(
      expect.arrayContaining(['ES256', 'RS256']),
    );
    expect(meta.scopes_supported).toEqual(
      expect.arrayContaining(['openid', 'profile', 'email', 'phone', 'address', 'offline_access']),
    );
    expect(meta.code_challenge_methods_supported).toEqual(['S256']);
    expect(meta.grant_types_supported).toEqual(
      expect.arrayContaining(['authorization_code', 'refresh_token']),
    );
    expect(meta.grant_types_supported).not.toContain('implicit');
    expect(meta.token_endpoint_auth_methods_supported).toEqual(
      expect.arrayContaining(['private_key_jwt', 'client_secret_basic', 'client_secret_post']),
    );
    expect(meta.acr_values_supported).toEqual([
      'urn:one-id:loa:low',
      'urn:one-id:loa:substantial',
      'urn:one-id:loa:high',
    ]);
    expect(meta.claims_parameter_supported).toBe(true);
    expect(meta.backchannel_logout_supported).toBe(true);
    expect(meta.backchannel_logout_session_supported).toBe(true);
    expect(meta.authorization_response_iss_parameter_supported).toBe(true);
  });

  it('OP-Discovery-JWKs: jwks_uri serves public signing keys, each with a unique kid', async () => {
    const keys = await jwks();
    expect(new Set(keys.map((k) => k.kid)).size).toBe(keys.length);
    expect(keys.map((k) => k.alg)).toEqual(expect.arrayContaining(['ES256', 'RS256']));
    for (const key of keys) {
      expect(key.use).toBe('sig');
      for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'])
        expect(key, `${key.kid}.${secret}`).not.toHaveProperty(secret);
    }
    expect(keys.find((k) => k.alg === 'ES256')).toMatchObject({ kty: 'EC', crv: 'P-256' });
    expect(keys.find((k) => k.alg === 'RS256')).toMatchObject({ kty: 'RSA' });
  });

  it('OP-Discovery-claims_supported: lists every claim One-ID releases', async () => {
    expect(meta.claims_supported).toEqual(
      expect.arrayContaining([
        'sub',
        'iss',
        'acr',
        'amr',
        'auth_time',
        'sid',
        'name',
        'birthdate',
        'gender',
        'address',
        'email',
        'email_verified',
        'phone_number',
        'phone_number_verified',
      ]),
    );
  });

  it('OP-Discovery-WebFinger-*: not offered (issuer discovery by WebFinger is not implemented)', async () => {
    const res = await fetch(
      `${app.issuer}/.well-known/webfinger?resource=${encodeURIComponent(`acct:park@${new URL(app.issuer).host}`)}&rel=http://openid.net/specs/connect/1.0/issuer`,
    );
    expect(res.status).toBe(404);
  });

  it('OP-Rotation-OP-Sig: after a key rotation, ID tokens are signed with the new key and the old one stays published', async () => {
    const citizen = await enrolCitizen(app);
    const rp = await createRp(app);
    const idTokenKid = async () => {
      const request = rp.request();
      const callback = await signIn(
        app,
        createBrowserSession(),
        citizen.authenticator,
        request.url,
      );
      const { id_token: idToken } = await rp.tokens(callback, request.verifier);
      await rp.idToken(idToken); // verifies against the JWKS as published now
      return decodeProtectedHeader(idToken).kid!;
    };
    const before = await idTokenKid();
    await app.services.signingKeys.rotate('test', { activateAfterSeconds: 0 });
    await app.reloadKeys(); // or already reloaded: rotation is announced on the change feed
    const after = await idTokenKid();
    expect(after).not.toBe(before);
    const published = (await jwks()).map((k) => k.kid);
    expect(published).toEqual(expect.arrayContaining([before, after]));
  });
});
