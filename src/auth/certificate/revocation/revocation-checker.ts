// Revocation status of every non-anchor certificate of a validated path: OCSP first
// when the certificate names a responder (fresher), then CRLs. "Cannot tell" is
// fatal unless the deployment chose failOpen, and the result says so for the audit.
import { CertificateError, isCertificateError } from '../certificate-errors.ts';
import { readCrlUrls, readOcspUrls } from '../validation/certificate-extensions.ts';
import { createCrlChecker } from './crl-checker.ts';
import { createOcspChecker } from './ocsp-checker.ts';
import type { X509Certificate } from '../validation/x509.ts';
import { certificateLabel } from '../certificate-label.ts';

export interface RevocationOptions {
  /** true: accept the certificate when no CRL/OCSP answer can be obtained. Banks use false. */
  failOpen: boolean;
  /** Deadline of each CRL download / OCSP request. */
  timeoutMs: number;
  /** CRLs to consult before the certificates' own distribution points (e.g. a local mirror).
   * Each is used only for certificates whose issuer signed it. */
  crlUrls?: string[];
}

/** 'good': every certificate was checked. 'unknown': failOpen let an unchecked one through. */
export type RevocationStatus = 'good' | 'unknown';

export interface RevocationCheckerDeps {
  options: RevocationOptions;
  fetch: typeof fetch;
  now: () => Date;
}

export const createRevocationChecker = ({ options, fetch, now }: RevocationCheckerDeps) => {
  const deps = { fetch, timeoutMs: options.timeoutMs, now };
  const crl = createCrlChecker(deps);
  const ocsp = createOcspChecker(deps);

  // Resolves when one source vouches for the certificate; `revoked` wins immediately.
  const checkOne = async (cert: X509Certificate, issuer: X509Certificate): Promise<void> => {
    const failures: string[] = [];
    const attempts: Array<() => Promise<unknown>> = [
      ...readOcspUrls(cert).map((url) => () => ocsp.check(cert, issuer, url)),
      ...[...new Set([...(options.crlUrls ?? []), ...readCrlUrls(cert)])].map(
        (url) => () => crl.check(cert, issuer, url),
      ),
    ];
    for (const attempt of attempts) {
      try {
        await attempt();
        return;
      } catch (error) {
        if (!isCertificateError(error, 'revocation_unavailable')) throw error;
        failures.push(error.message);
      }
    }
    const detail =
      failures.length > 0 ? failures.join('; ') : 'no CRL distribution point or OCSP responder';
    throw new CertificateError(
      'revocation_unavailable',
      `revocation status of ${certificateLabel(cert)} unknown: ${detail}`,
    );
  };

  return {
    /**
     * `path` is [leaf, ...intermediates, anchor] and must already be signature-checked:
     * the CRL/OCSP URLs followed here come from CA-signed certificates only.
     */
    async check(path: readonly X509Certificate[]): Promise<RevocationStatus> {
      const results = await Promise.allSettled(
        path.slice(0, -1).map((cert, index) => checkOne(cert, path[index + 1]!)),
      );
      const errors = results.flatMap((result) =>
        result.status === 'rejected' ? [result.reason as unknown] : [],
      );
      const revoked = errors.find((error) => isCertificateError(error, 'revoked'));
      if (revoked) throw revoked;
      const fatal = errors.find((error) => !isCertificateError(error, 'revocation_unavailable'));
      if (fatal) throw fatal;
      if (errors.length === 0) return 'good';
      if (options.failOpen) return 'unknown';
      throw errors[0];
    },
    clearCache: crl.clear,
  };
};

export type RevocationChecker = ReturnType<typeof createRevocationChecker>;
