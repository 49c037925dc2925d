// Proof of possession by signed challenge: the sign-in page issues a single-use nonce,
// the citizen's signing software returns a compact JWS over it carrying its
// certificate chain in x5c (RFC 7515 4.1.6). This file proves the JWS was made with
// the x5c leaf's key; the caller must still (1) consume the nonce from its store
// (replays -> 'replayed') and (2) validate the chain with the certificate validator.
import { randomBytes } from 'node:crypto';
import { decodeProtectedHeader, errors, importX509, jwtVerify } from 'jose';
import { CertificateError } from './certificate-errors.ts';
import { decodeBase64Strict, derToPem } from './validation/certificate-encoding.ts';

export const CHALLENGE_TYP = 'one-id-cert-challenge+jwt';
export const CHALLENGE_ALGORITHMS = ['ES256', 'PS256', 'RS256'] as const;
export type ChallengeAlgorithm = (typeof CHALLENGE_ALGORITHMS)[number];
/** Longest accepted exp - iat. */
export const MAX_CHALLENGE_LIFETIME_S = 300;
export const CHALLENGE_CLOCK_TOLERANCE_S = 60;
const MAX_JWS_LENGTH = 64 * 1024;
const MAX_X5C = 9;

/** 32 random bytes, base64url. Store it server-side (keyed by interaction) until consumed. */
export const createChallengeNonce = (): string => randomBytes(32).toString('base64url');

export interface SignedChallengeOptions {
  /** Our issuer URL: the JWS `aud` must equal it. */
  audience: string;
  now?: () => Date;
}

export interface VerifiedChallenge {
  leafDer: Buffer;
  intermediatesDer: Buffer[];
  /** Compare with and consume from the nonce store before trusting the login. */
  nonce: string;
  alg: ChallengeAlgorithm;
}

const isAllowedAlg = (alg: unknown): alg is ChallengeAlgorithm =>
  typeof alg === 'string' && (CHALLENGE_ALGORITHMS as readonly string[]).includes(alg);

const toCertificateError = (error: unknown, keyProven: boolean): CertificateError => {
  if (error instanceof CertificateError) {
    error.keyProven = keyProven;
    return error;
  }
  if (error instanceof errors.JWTExpired)
    return new CertificateError('challenge_expired', 'signed challenge has expired', {
      cause: error,
      keyProven,
    });
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) {
    return new CertificateError('malformed', `signed challenge is malformed: ${error.message}`, {
      cause: error,
      keyProven,
    });
  }
  // Signature mismatch, wrong aud/typ/alg: the JWS proves nothing about this login.
  const detail = error instanceof Error ? error.message : String(error);
  return new CertificateError('no_proof', `signed challenge rejected: ${detail}`, {
    cause: error,
    keyProven,
  });
};

/** jose checks the signature before the claims: a claim error means the key made the signature. */
const afterSignature = (error: unknown) =>
  error instanceof errors.JWTClaimValidationFailed || error instanceof errors.JWTExpired;

/**
 * Throws CertificateError: `malformed`, `no_proof` or `challenge_expired`, with `keyProven` when
 * the x5c leaf's key made the signature (the refusal is then the certificate holder's).
 */
export const verifySignedChallenge = async (
  jws: string,
  options: SignedChallengeOptions,
): Promise<VerifiedChallenge> => {
  const now = options.now?.() ?? new Date();
  let keyProven = false;
  try {
    if (typeof jws !== 'string' || jws.length > MAX_JWS_LENGTH || jws.split('.').length !== 3) {
      throw new CertificateError('malformed', 'signed challenge is not a compact JWS');
    }
    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(jws);
    } catch (cause) {
      throw new CertificateError('malformed', 'signed challenge header is not decodable', {
        cause,
      });
    }
    if (header.typ !== CHALLENGE_TYP)
      throw new CertificateError('no_proof', `signed challenge typ must be ${CHALLENGE_TYP}`);
    const alg = header.alg;
    if (!isAllowedAlg(alg))
      throw new CertificateError('no_proof', `signed challenge alg ${String(alg)} is not allowed`);
    const x5c = header.x5c;
    if (!Array.isArray(x5c) || x5c.length === 0 || x5c.length > MAX_X5C) {
      throw new CertificateError(
        'malformed',
        `signed challenge x5c must hold 1 to ${MAX_X5C} certificates`,
      );
    }
    const ders = x5c.map((entry) => (typeof entry === 'string' ? decodeBase64Strict(entry) : null));
    if (ders.some((der) => der === null))
      throw new CertificateError('malformed', 'x5c entries must be base64 DER');
    const [leafDer, ...intermediatesDer] = ders as Buffer[];

    let key: CryptoKey;
    try {
      key = await importX509(derToPem(leafDer!), alg);
    } catch (cause) {
      throw new CertificateError('no_proof', `x5c leaf key cannot verify ${alg}`, { cause });
    }
    // The key comes from x5c[0] only: jwk/jku/x5u headers are never consulted.
    const { payload } = await jwtVerify(jws, key, {
      algorithms: [alg],
      typ: CHALLENGE_TYP,
      audience: options.audience,
      currentDate: now,
      clockTolerance: CHALLENGE_CLOCK_TOLERANCE_S,
      requiredClaims: ['nonce', 'aud', 'iat', 'exp'],
    }).catch((error: unknown) => {
      keyProven = afterSignature(error);
      throw error;
    });
    keyProven = true;
    const { iat, exp, nonce } = payload as { iat: number; exp: number; nonce: unknown };
    if (exp - iat > MAX_CHALLENGE_LIFETIME_S) {
      throw new CertificateError(
        'no_proof',
        `signed challenge lifetime exceeds ${MAX_CHALLENGE_LIFETIME_S} s`,
      );
    }
    if (iat > now.getTime() / 1000 + CHALLENGE_CLOCK_TOLERANCE_S)
      throw new CertificateError('no_proof', 'signed challenge iat is in the future');
    if (typeof nonce !== 'string' || nonce.length === 0 || nonce.length > 512) {
      throw new CertificateError('malformed', 'signed challenge nonce must be a non-empty string');
    }
    return { leafDer: leafDer!, intermediatesDer, nonce, alg };
  } catch (error) {
    throw toCertificateError(error, keyProven);
  }
};
