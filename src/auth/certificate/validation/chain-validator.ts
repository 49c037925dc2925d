// Bank-grade validation of a citizen's certificate: path to a configured anchor,
// signatures, validity, CA constraints, leaf usage and policy, then revocation.
import { CertificateError } from '../certificate-errors.ts';
import {
  parseCertificate,
  pemCertificatesToDer,
  type CertificateInput,
} from './certificate-encoding.ts';
import { MAX_PATH_LENGTH, buildCertificatePath } from './chain-builder.ts';
import {
  checkCriticalExtensions,
  checkIssuerConstraints,
  checkLeafUsage,
  checkValidityPeriods,
} from './path-constraints.ts';
import {
  createRevocationChecker,
  type RevocationOptions,
} from '../revocation/revocation-checker.ts';
import { describeCertificate, type ValidatedCertificate } from './validated-certificate.ts';
import { X509Certificate } from './x509.ts';

export interface CertificateValidatorOptions {
  /** PEM bundle of the trusted roots (or pinned intermediates). Only these are trusted. */
  trustAnchorsPem: string;
  /** When set, the leaf's certificatePolicies must contain at least one of these OIDs. */
  policyOids?: string[];
  revocation: RevocationOptions;
  now?: () => Date;
  fetch?: typeof fetch;
}

const parseAnchors = (pem: string): X509Certificate[] => {
  let ders: Buffer[];
  try {
    ders = pemCertificatesToDer(pem);
  } catch (cause) {
    throw new TypeError('trustAnchorsPem contains an invalid PEM block', { cause });
  }
  if (ders.length === 0) throw new TypeError('trustAnchorsPem contains no certificate');
  return ders.map((der) => new X509Certificate(new Uint8Array(der)));
};

/**
 * Configuration errors (no anchors, bad timeout) throw TypeError at creation.
 * `validate` resolves with the certificate's facts or rejects with a CertificateError.
 * It does not prove possession of the key: pair it with verifySignedChallenge or a
 * TLS client-certificate handshake.
 */
export const createCertificateValidator = (options: CertificateValidatorOptions) => {
  const anchors = parseAnchors(options.trustAnchorsPem);
  if (!(options.revocation.timeoutMs > 0))
    throw new TypeError('revocation.timeoutMs must be a positive number');
  const now = options.now ?? (() => new Date());
  const policyOids = [...(options.policyOids ?? [])];
  const revocation = createRevocationChecker({
    options: options.revocation,
    fetch: options.fetch ?? globalThis.fetch,
    now,
  });

  return {
    /** `leaf` and `intermediates` as PEM, base64 DER or DER bytes, in any order. */
    async validate(
      leaf: CertificateInput,
      intermediates: readonly CertificateInput[] = [],
    ): Promise<ValidatedCertificate> {
      if (intermediates.length > MAX_PATH_LENGTH) {
        throw new CertificateError(
          'malformed',
          `at most ${MAX_PATH_LENGTH} intermediate certificates are accepted`,
        );
      }
      const leafCert = parseCertificate(leaf);
      const path = await buildCertificatePath(
        leafCert,
        intermediates.map(parseCertificate),
        anchors,
      );
      checkValidityPeriods(path, now());
      checkCriticalExtensions(path);
      checkIssuerConstraints(path);
      checkLeafUsage(leafCert, policyOids);
      const status = await revocation.check(path);
      return describeCertificate(path, status);
    },
    /** Forget cached CRLs. */
    clearRevocationCache: revocation.clearCache,
  };
};

export type CertificateValidator = ReturnType<typeof createCertificateValidator>;
