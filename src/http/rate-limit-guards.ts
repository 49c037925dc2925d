// Limits that need the ceremony's content: passkey options per identifier, passkey assertions
// per credential, and the lockout (progressive delays, then a temporary lock) of the one passkey
// or certificate that keeps failing. The account is never locked: the citizen's other passkeys
// and certificates still work, so an attacker cannot shut a citizen out by failing on purpose.
import { createHash } from 'node:crypto';
import { decodeProtectedHeader } from 'jose';
import type { CertificateLoginService } from '../auth/certificate/index.ts';
import { isCertificateError } from '../auth/certificate/index.ts';
import { isAppError } from '../shared/index.ts';
import type { PasskeyServiceLike } from './deps.ts';
import type { RateLimits } from './rate-limit.ts';

const credentialOf = (response: unknown): string | undefined => {
  const id = (response as { id?: unknown } | null)?.id;
  return typeof id === 'string' && id.length > 0 && id.length <= 1024 ? id : undefined;
};

export const guardPasskeys = (
  passkeys: PasskeyServiceLike,
  limits: RateLimits,
): PasskeyServiceLike => ({
  ...passkeys,
  async authenticationOptions(binding, identifier) {
    // Asking for an identifier's passkeys (or decoy) is limited per identifier.
    if (identifier)
      await limits.take(
        'account',
        `identifier\u0000${identifier.trim().toLowerCase().slice(0, 320)}`,
      );
    return passkeys.authenticationOptions(binding, identifier);
  },
  async verifyAuthentication(binding, response, context) {
    const credentialId = credentialOf(response);
    if (!credentialId) return passkeys.verifyAuthentication(binding, response, context);
    const key = `passkey\u0000${credentialId}`;
    await limits.take('account', key);
    await limits.lockout.check(key, 'ERR_CREDENTIAL_LOCKED');
    try {
      const result = await passkeys.verifyAuthentication(binding, response, context);
      await limits.lockout.succeed(key);
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

/**
 * The signed-challenge path: every refused proof counts against the certificate it names, except
 * when the revocation service was unreachable (our dependency, not the citizen's doing). TLS-based
 * paths prove possession in the handshake and are limited per address only.
 */
export const guardCertificates = (
  certificates: CertificateLoginService,
  limits: RateLimits,
): CertificateLoginService => ({
  ...certificates,
  async signInWithChallenge(uid, jws, context) {
    const fingerprint = claimedCertificate(jws);
    if (!fingerprint) return certificates.signInWithChallenge(uid, jws, context);
    const key = `certificate\u0000${fingerprint}`;
    await limits.lockout.check(key, 'ERR_CERTIFICATE_LOCKED');
    try {
      const outcome = await certificates.signInWithChallenge(uid, jws, context);
      await limits.lockout.succeed(key);
      return outcome;
    } catch (error) {
      if (isCertificateError(error) && error.reason !== 'revocation_unavailable')
        await limits.lockout.fail(key);
      throw error;
    }
  },
});
