// Back-channel logout token checks (Back-Channel Logout 1.0, 2.6), each refusal on its own.
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  BACKCHANNEL_LOGOUT_EVENT,
  createLogoutTokenVerifier,
  LogoutTokenError,
  type LogoutTokenVerifier,
} from './logout-token.ts';

const issuer = 'http://localhost:3000';
const clientId = 'agency-app-example';
let key: CryptoKey;
let otherKey: CryptoKey;
let verify: LogoutTokenVerifier;

beforeAll(async () => {
  const pair = await generateKeyPair('ES256');
  key = pair.privateKey;
  otherKey = (await generateKeyPair('ES256')).privateKey;
  const jwks = createLocalJWKSet({
    keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256' }],
  });
  verify = createLogoutTokenVerifier({ issuer, clientId, keys: jwks });
});

let counter = 0;
const token = (
  claims: JWTPayload = {},
  options: { typ?: string | null; signer?: CryptoKey; iat?: number } = {},
) => {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({
    iss: issuer,
    aud: clientId,
    events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
    sid: 'sid-1',
    sub: 'sub-1',
    jti: `jti-${(counter += 1)}`,
    ...claims,
  })
    .setProtectedHeader({
      alg: 'ES256',
      kid: 'k1',
      ...(options.typ !== null && { typ: options.typ ?? 'logout+jwt' }),
    })
    .setIssuedAt(options.iat ?? now)
    .setExpirationTime((options.iat ?? now) + 120);
  return jwt.sign(options.signer ?? key);
};

describe('createLogoutTokenVerifier', () => {
  it('accepts a well-formed logout token and returns sub and sid', async () => {
    await expect(verify(await token())).resolves.toMatchObject({ sub: 'sub-1', sid: 'sid-1' });
  });

  it('accepts a token with only sid or only sub', async () => {
    await expect(verify(await token({ sub: undefined }))).resolves.toMatchObject({
      sid: 'sid-1',
      sub: undefined,
    });
    await expect(verify(await token({ sid: undefined }))).resolves.toMatchObject({
      sub: 'sub-1',
      sid: undefined,
    });
  });

  it.each([
    ['a signature by another key', () => token({}, { signer: otherKey })],
    ['another audience', () => token({ aud: 'someone-else' })],
    ['another issuer', () => token({ iss: 'http://evil.example' })],
    ['no typ logout+jwt (an ID token)', () => token({}, { typ: null })],
    ['a nonce', () => token({ nonce: 'n' })],
    ['no events claim', () => token({ events: undefined })],
    [
      'events without the back-channel logout member',
      () => token({ events: { 'http://example.com/other': {} } }),
    ],
    [
      'an event value that is not an object',
      () => token({ events: { [BACKCHANNEL_LOGOUT_EVENT]: 'yes' } }),
    ],
    ['neither sub nor sid', () => token({ sub: undefined, sid: undefined })],
    [
      'an iat older than the allowed age',
      () => token({}, { iat: Math.floor(Date.now() / 1000) - 3600 }),
    ],
    ['no jti', () => token({ jti: undefined })],
  ])('refuses a token with %s', async (_case, make) => {
    await expect(verify(await make())).rejects.toBeInstanceOf(LogoutTokenError);
  });

  it('refuses the same token twice (jti replay)', async () => {
    const once = await token();
    await verify(once);
    await expect(verify(once)).rejects.toThrow(/already used/);
  });
});
