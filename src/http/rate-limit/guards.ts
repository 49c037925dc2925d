// Limits that need the ceremony's content: passkey options per identifier, passkey assertions
// per credential, and the lockout (progressive delays, then a temporary lock) of the one passkey
// or certificate that keeps failing. The account is never locked: the citizen's other passkeys
// and certificates still work, so an attacker cannot shut a citizen out by failing on purpose.
import { createHash } from 'node:crypto';
import { decodeProtectedHeader } from 'jose';
import type { CertificateLoginService } from '../../auth/certificate/index.ts';
import { isCertificateError } from '../../auth/certificate/index.ts';
import { isAppError } from '../../shared/index.ts';
import type { Checked, PasskeyServiceLike } from '../deps.ts';
import type { RateLimits } from './limiter.ts';

const credentialOf = (response: unknown): string | undefined => {
  const id = (response as { id?: unknown } | null)?.id;
  return typeof id === 'string' && id.length > 0 && id.length <= 1024 ? id : undefined;
};

/**
 * The checks in the order they decide, all issued at once (one Redis round trip with the
 * caller's): the first refusal is the answer; the first promise's value is the result.
 */
const inOrder = async <T>(first: Checked<T>, ...then: Promise<unknown>[]): Promise<T> => {
  const settled = await Promise.allSettled([first, ...then]);
  for (const outcome of settled) if (outcome.status === 'rejected') throw outcome.reason;
  return (settled[0] as PromiseFulfilledResult<T>).value;
};

export const guardPasskeys = (
  passkeys: PasskeyServiceLike,
  limits: RateLimits,
): PasskeyServiceLike => ({
  ...passkeys,
  async authenticationOptions(binding, identifier, checked) {
    // Asking for an identifier's passkeys (or decoy) is limited per identifier, after the
    // caller's checks (its counter is taken with them).
    if (identifier)
      checked = inOrder(
        checked,
        limits.take('account', `identifier\u0000${identifier.trim().toLowerCase().slice(0, 320)}`),
      );
    return passkeys.authenticationOptions(binding, identifier, checked);
  },
  async verifyAuthentication(binding, response, checked) {
    const credentialId = credentialOf(response);
    if (!credentialId) return passkeys.verifyAuthentication(binding, response, checked);
    const key = `passkey\u0000${credentialId}`;
    // The credential's counter and its lockout, with the caller's checks and the challenge (one
    // Redis round trip), deciding after the caller's checks and before any verification; the
    // counter is taken whether or not it is locked, as when run in turn.
    const ready = inOrder(
      checked ?? {},
      limits.take('account', key),
      limits.lockout.check(key, 'ERR_CREDENTIAL_LOCKED'),
    );
    try {
      const result = await passkeys.verifyAuthentication(binding, response, ready);
      // Forgetting the failures need not hold the response: it goes out with the next command.
      void limits.lockout.succeed(key).catch(() => undefined);
      return result;
    } catch (error) {
      if (isAppError(error) && error.code === 'ERR_PASSKEY_VERIFICATION_FAILED')
        await limits.lockout.fail(key);
      throw error;
    }
  },
});

/** SHA-256 of the certificate the JWS names in x5c[0], unverified: only to choose the counter. */
const claimedCertificate = (jws: unknown): string | undefined => {
  if (typeof jws !== 'string' || jws.length > 64 * 1024) return undefined;
  try {
    const leaf = decodeProtectedHeader(jws.trim()).x5c?.[0];
    return typeof leaf === 'string' && leaf.length < 16_384
      ? createHash('sha256').update(Buffer.from(leaf, 'base64')).digest('hex')
      : undefined;
  } catch {
    return undefined;
  }
};

const ADDRESS_TOLERANCE = 10;

/**
 * The signed-challenge path. A refused proof counts against the certificate it names only when
 * that certificate's key made the signature (CertificateError.keyProven): anyone can put a
 * citizen's public certificate in x5c, and such forgeries must not lock the holder out. Other
 * refusals count against the client address and the sign-in interaction. Never counted: the
 * revocation service being unreachable (our dependency, not the citizen's doing). TLS-based
 * paths prove possession in the handshake and are limited per address only.
 */
export const guardCertificates = (
  certificates: CertificateLoginService,
  limits: RateLimits,
): CertificateLoginService => ({
  ...certificates,
  async signInWithChallenge(uid, jws, context) {
    const fingerprint = claimedCertificate(jws);
    const certificate = fingerprint && `certificate\u0000${fingerprint}`;
    // The address is shared by many citizens behind NAT: it tolerates ten times more (as the
    // per-address rate limits do); the interaction is one browser's sign-in.
    const strangers: [string, number][] = [
      [`interaction\u0000${uid}`, 1],
      [`address\u0000${context?.ip ?? ''}`, ADDRESS_TOLERANCE],
    ];
    // The three locks are read in one script (issued in one turn) and refuse in this order.
    const checks = await Promise.allSettled([
      ...strangers.map(([key]) => limits.lockout.check(key, 'ERR_RATE_LIMITED')),
      ...(certificate ? [limits.lockout.check(certificate, 'ERR_CERTIFICATE_LOCKED')] : []),
    ]);
    for (const check of checks) if (check.status === 'rejected') throw check.reason;
    try {
      const outcome = await certificates.signInWithChallenge(uid, jws, context);
      if (certificate) await limits.lockout.succeed(certificate);
      return outcome;
    } catch (error) {
      if (isCertificateError(error) && error.reason !== 'revocation_unavailable') {
        if (certificate && error.keyProven) await limits.lockout.fail(certificate);
        else
          await Promise.all(
            strangers.map(([key, tolerance]) => limits.lockout.fail(key, tolerance)),
          );
      }
      throw error;
    }
  },
});
