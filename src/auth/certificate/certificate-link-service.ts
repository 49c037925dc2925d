// A signed-in citizen adds a certificate to their own account (My One-ID, sign-in methods):
// the same signed challenge as the login page (docs/certificates.md), but the nonce is bound
// to the account instead of an interaction. The certificate is validated with the same
// validator and mapped with the same CERT_MAPPING_RULE; a subject key that already belongs to
// another account is never linked (one identity, one account), and the citizen is not told
// which account holds it.
import type { Knex } from 'knex';
import { appendAudit } from '../../audit/index.ts';
import { AppError, type Clock } from '../../shared/index.ts';
import type { KvStore } from '../../store/index.ts';
import { isCertificateError } from './certificate-errors.ts';
import {
  CHALLENGE_TTL_SECONDS,
  fingerprintOf,
  verifyChallengeProof,
} from './certificate-login-service.ts';
import { certificateSubjectKey, type CertificateMappingRule } from './certificate-mapping.ts';
import {
  findCertificateByFingerprint,
  lockSubjectKey,
  subjectKeyOwners,
} from './certificate-repo.ts';
import type { CertificateValidator } from './validation/chain-validator.ts';
import { linkCertificate } from './link-certificate.ts';
import { CHALLENGE_ALGORITHMS, CHALLENGE_TYP, createChallengeNonce } from './signed-challenge.ts';

type Deps = {
  knex: Knex;
  kv: KvStore;
  clock: Clock;
  validator: CertificateValidator;
  /** Our issuer URL: the signed challenge's audience. */
  issuer: string;
  mappingRule: CertificateMappingRule;
};

/** `linked`: added now; `already-linked`: this certificate was already the account's. */
export type LinkOutcome = { status: 'linked' | 'already-linked'; fingerprint: string };

const nonceKey = (accountId: string, nonce: string) => `cert:link-nonce:${accountId}:${nonce}`;

const linkedElsewhere = () =>
  new AppError(
    'ERR_CERT_LINKED_ELSEWHERE',
    'This certificate belongs to another One-ID account, so it cannot be added to yours. If it is yours, please contact a service counter.',
    { status: 409 },
  );

export const createCertificateLinkService = ({
  knex,
  kv,
  clock,
  validator,
  issuer,
  mappingRule,
}: Deps) => {
  const refused = async (
    accountId: string,
    ip: string | undefined,
    details: Record<string, unknown>,
  ) => {
    await knex.transaction((trx) =>
      appendAudit(trx, {
        action: 'auth.certificate.link_refused',
        actor: `account:${accountId}`,
        subject: `account:${accountId}`,
        ip,
        details: { method: 'challenge', via: 'account', ...details },
      }),
    );
  };

  return {
    /** A single-use nonce for this account (5 minutes), in the login page's challenge format. */
    async issueChallenge(accountId: string) {
      const nonce = createChallengeNonce();
      await kv.set(nonceKey(accountId, nonce), '1', CHALLENGE_TTL_SECONDS);
      return {
        nonce,
        audience: issuer,
        expiresIn: CHALLENGE_TTL_SECONDS,
        typ: CHALLENGE_TYP,
        algorithms: [...CHALLENGE_ALGORITHMS],
      };
    },

    /**
     * Verifies the JWS (signature by x5c[0], aud, expiry), consumes the account's nonce, validates
     * the chain, maps it, and links it to the account in one transaction (audited
     * `auth.certificate.linked`, `via: "account"`). Refusals are audited
     * `auth.certificate.link_refused` and thrown: CertificateError (the proof or the certificate),
     * or AppError ERR_CERT_LINKED_ELSEWHERE (409) when the identity belongs to another account.
     */
    async link(
      accountId: string,
      jws: unknown,
      context: { ip?: string | undefined } = {},
    ): Promise<LinkOutcome> {
      const seen: { leafDer?: Buffer | undefined } = {};
      let cert;
      let subjectKey: string;
      try {
        cert = await verifyChallengeProof(
          jws,
          { kv, clock, validator, issuer },
          {
            keyOf: (nonce) => nonceKey(accountId, nonce),
            replayed: 'the signed nonce was not issued for this account or was already used',
          },
          seen,
        );
        subjectKey =
          (await findCertificateByFingerprint(knex, cert.fingerprintSha256))?.subjectKey ??
          certificateSubjectKey(cert, mappingRule);
      } catch (error) {
        if (isCertificateError(error)) {
          await refused(accountId, context.ip, {
            reason: error.reason,
            detail: error.message.slice(0, 500),
            ...(seen.leafDer && { fingerprint: fingerprintOf(seen.leafDer) }),
          });
        }
        throw error;
      }
      const fingerprint = cert.fingerprintSha256;
      const status = await knex.transaction(async (trx) => {
        // Serialises with a concurrent sign-in or link of the same identity (certificate-login-service).
        await lockSubjectKey(trx, subjectKey);
        const known = await findCertificateByFingerprint(trx, fingerprint);
        if (known) return known.accountId === accountId ? 'already-linked' : 'elsewhere';
        if ((await subjectKeyOwners(trx, subjectKey)).some((owner) => owner !== accountId))
          return 'elsewhere';
        await linkCertificate(trx, {
          accountId,
          subjectKey,
          cert,
          ip: context.ip,
          details: { revocation: cert.revocation, via: 'account' },
        });
        return 'linked';
      });
      if (status === 'elsewhere') {
        // Which account holds it is not said, to the citizen or in their account's trail.
        await refused(accountId, context.ip, {
          reason: 'linked_elsewhere',
          fingerprint,
          serial: cert.serialNumber,
          issuer: cert.issuer,
        });
        throw linkedElsewhere();
      }
      return { status, fingerprint };
    },
  };
};

export type CertificateLinkService = ReturnType<typeof createCertificateLinkService>;
