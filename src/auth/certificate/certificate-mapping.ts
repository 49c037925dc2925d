// Stable account-link keys derived from a validated certificate. Store the key on the
// account when linking; look it up on the next certificate login.
import { createHash } from 'node:crypto';
import { CertificateError } from './certificate-errors.ts';
import type { ValidatedCertificate } from './validation/validated-certificate.ts';

/**
 * 'subject-serial': the holder id (subject serialNumber, OID 2.5.4.5) scoped to the
 *   trust anchor: survives renewal (new key, new serial, even a new issuing CA) but
 *   keeps two hierarchies that number holders independently apart.
 * 'san-email': the first SAN rfc822Name, lowercased, scoped to the trust anchor too: with
 *   several anchors, one authority cannot claim an address another authority vouched for.
 * 'issuer-serial': this one certificate (RFC 5280 4.1.2.2); a renewal needs relinking.
 */
export type CertificateMappingRule = 'subject-serial' | 'san-email' | 'issuer-serial';

const hierarchyScope = (anchorSubject: string): string =>
  createHash('sha256').update(anchorSubject).digest('hex').slice(0, 16);

/** Throws CertificateError('malformed') when the certificate lacks the rule's attribute. */
export const certificateSubjectKey = (
  cert: ValidatedCertificate,
  rule: CertificateMappingRule,
): string => {
  switch (rule) {
    case 'subject-serial': {
      const serial = cert.subjectSerialNumber?.trim();
      if (!serial)
        throw new CertificateError(
          'malformed',
          'certificate subject has no serialNumber (2.5.4.5) for the subject-serial mapping',
        );
      return `subject-serial:${hierarchyScope(cert.trustAnchorSubject)}:${serial}`;
    }
    case 'san-email': {
      const email = cert.sanEmails[0]?.trim().toLowerCase();
      if (!email)
        throw new CertificateError(
          'malformed',
          'certificate has no subjectAltName email for the san-email mapping',
        );
      return `san-email:${hierarchyScope(cert.trustAnchorSubject)}:${email}`;
    }
    case 'issuer-serial':
      // The DN goes last: it may itself contain ':'.
      return `issuer-serial:${cert.serialNumber}:${cert.issuer}`;
    default:
      throw new TypeError(`unknown certificate mapping rule ${String(rule)}`);
  }
};
