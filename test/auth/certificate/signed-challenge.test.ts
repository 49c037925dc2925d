import { SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CHALLENGE_TYP,
  createCertificateValidator,
  createChallengeNonce,
  verifySignedChallenge,
  type CertificateErrorReason,
} from '../../../src/auth/certificate/index.ts';
import {
  createIntermediateCa,
  createLeaf,
  createRootCa,
  generateKeys,
  type Issued,
} from '../../support/pki.ts';

const ISSUER = 'https://one-id.example.go.kr';
// A fixed instant: the test PKI is issued relative to the real clock, so stay near it.
const NOW = new Date(Math.floor(Date.now() / 1000) * 1000);
const now = () => NOW;
const seconds = (date: Date): number => Math.floor(date.getTime() / 1000);

let root: Issued;
let intermediate: Issued;
let leaf: Issued;

interface SignOptions {
  key?: CryptoKey;
  alg?: string;
  typ?: string;
  aud?: string;
  iat?: number;
  exp?: number;
  x5c?: string[];
  nonce?: string;
}

const sign = async (options: SignOptions = {}): Promise<string> => {
  const iat = options.iat ?? seconds(NOW) - 5;
  return new SignJWT({ nonce: options.nonce ?? 'n-123' })
    .setProtectedHeader({
      alg: options.alg ?? 'ES256',
      typ: options.typ ?? CHALLENGE_TYP,
      x5c: options.x5c ?? [leaf.b64, intermediate.b64],
    })
    .setAudience(options.aud ?? ISSUER)
    .setIssuedAt(iat)
    .setExpirationTime(options.exp ?? iat + 120)
    .sign(options.key ?? leaf.keys.privateKey);
};

const rejection = async (promise: Promise<unknown>): Promise<CertificateErrorReason> =>
  promise.then(
    () => expect.fail('expected a CertificateError'),
    (e: unknown) => (e as { reason: CertificateErrorReason }).reason,
  );

beforeAll(async () => {
  root = await createRootCa();
  intermediate = await createIntermediateCa(root);
  leaf = await createLeaf(intermediate);
});

describe('createChallengeNonce', () => {
  it('returns 32 random bytes in base64url', () => {
    const nonce = createChallengeNonce();
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(nonce, 'base64url')).toHaveLength(32);
    expect(createChallengeNonce()).not.toBe(nonce);
  });
});

describe('verifySignedChallenge', () => {
  it('returns the x5c chain and nonce of a JWS signed by the leaf key', async () => {
    const nonce = createChallengeNonce();
    const result = await verifySignedChallenge(await sign({ nonce }), { audience: ISSUER, now });
    expect(result.nonce).toBe(nonce);
    expect(result.alg).toBe('ES256');
    expect(result.leafDer.equals(leaf.der)).toBe(true);
    expect(result.intermediatesDer.map((der) => der.toString('base64'))).toEqual([
      intermediate.b64,
    ]);

    // The proven certificate then goes through chain validation.
    const validator = createCertificateValidator({
      trustAnchorsPem: root.pem,
      revocation: { failOpen: true, timeoutMs: 500 },
      now,
    });
    await expect(
      validator.validate(result.leafDer, result.intermediatesDer),
    ).resolves.toMatchObject({ subject: leaf.cert.subject });
  });

  it('accepts PS256 from an RSA certificate', async () => {
    const rsaKeys = (await crypto.subtle.generateKey(
      {
        name: 'RSA-PSS',
        modulusLength: 2048,
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: 'SHA-256',
      },
      true,
      ['sign', 'verify'],
    )) as CryptoKeyPair;
    const rsaLeaf = await createLeaf(intermediate, { keys: rsaKeys });
    const jws = await sign({ alg: 'PS256', key: rsaKeys.privateKey, x5c: [rsaLeaf.b64] });
    await expect(verifySignedChallenge(jws, { audience: ISSUER, now })).resolves.toMatchObject({
      alg: 'PS256',
    });
  });

  it('rejects a JWS signed by another key than the x5c leaf', async () => {
    const other = await generateKeys();
    expect(
      await rejection(
        verifySignedChallenge(await sign({ key: other.privateKey }), { audience: ISSUER, now }),
      ),
    ).toBe('no_proof');
  });

  it('rejects an expired challenge, allowing 60 s of clock skew', async () => {
    const iat = seconds(NOW) - 200;
    const justExpired = await sign({ iat, exp: seconds(NOW) - 30 });
    await expect(
      verifySignedChallenge(justExpired, { audience: ISSUER, now }),
    ).resolves.toBeDefined();
    const expired = await sign({ iat, exp: seconds(NOW) - 90 });
    expect(await rejection(verifySignedChallenge(expired, { audience: ISSUER, now }))).toBe(
      'challenge_expired',
    );
  });

  it.each<[string, SignOptions]>([
    ['a wrong audience', { aud: 'https://evil.example' }],
    ['a wrong typ', { typ: 'JWT' }],
    ['a lifetime over 300 s', { iat: seconds(NOW) - 10, exp: seconds(NOW) + 600 }],
    ['an iat in the future', { iat: seconds(NOW) + 120, exp: seconds(NOW) + 180 }],
  ])('rejects %s as no_proof', async (_name, options) => {
    expect(
      await rejection(verifySignedChallenge(await sign(options), { audience: ISSUER, now })),
    ).toBe('no_proof');
  });

  it('rejects a disallowed algorithm', async () => {
    const key = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, true, [
      'sign',
      'verify',
    ])) as CryptoKeyPair;
    expect(
      await rejection(
        verifySignedChallenge(await sign({ alg: 'ES384', key: key.privateKey }), {
          audience: ISSUER,
          now,
        }),
      ),
    ).toBe('no_proof');
  });

  it('rejects malformed input', async () => {
    expect(await rejection(verifySignedChallenge('abc', { audience: ISSUER, now }))).toBe(
      'malformed',
    );
    expect(
      await rejection(verifySignedChallenge(await sign({ x5c: [] }), { audience: ISSUER, now })),
    ).toBe('malformed');
    expect(
      await rejection(
        verifySignedChallenge(await sign({ x5c: ['***'] }), { audience: ISSUER, now }),
      ),
    ).toBe('malformed');
  });
});
