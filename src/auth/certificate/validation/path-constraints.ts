// Per-certificate rules over a built path [leaf, ...intermediates, anchor] (RFC 5280 6.1.3-6.1.5).
import { CertificateError } from '../certificate-errors.ts';
import {
  OID,
  SUPPORTED_EXTENSIONS,
  listExtensions,
  readBasicConstraints,
  readExtendedKeyUsage,
  readKeyUsage,
  readPolicies,
} from './certificate-extensions.ts';
import { KeyUsageFlags, type X509Certificate } from './x509.ts';
import { certificateLabel } from '../certificate-label.ts';

const role = (index: number, length: number): string =>
  index === 0
    ? 'certificate'
    : index === length - 1
      ? 'trust anchor'
      : 'intermediate CA certificate';

/** Every certificate, anchor included, must be within notBefore..notAfter at `now`. */
export const checkValidityPeriods = (path: readonly X509Certificate[], now: Date): void => {
  path.forEach((cert, index) => {
    const what = `${role(index, path.length)} ${certificateLabel(cert)}`;
    if (now < cert.notBefore)
      throw new CertificateError(
        'not_yet_valid',
        `${what} is valid from ${cert.notBefore.toISOString()}`,
      );
    if (now > cert.notAfter)
      throw new CertificateError('expired', `${what} expired at ${cert.notAfter.toISOString()}`);
  });
};

/** Critical extensions we do not process make the certificate unusable (RFC 5280 4.2).
 * Anchors are configuration, not input, and are exempt. */
export const checkCriticalExtensions = (path: readonly X509Certificate[]): void => {
  for (const cert of path.slice(0, -1)) {
    const unknown = listExtensions(cert).find(
      (ext) => ext.critical && !SUPPORTED_EXTENSIONS.has(ext.type),
    );
    if (unknown)
      throw new CertificateError(
        'untrusted',
        `unsupported critical extension ${unknown.type} in ${certificateLabel(cert)}`,
      );
  }
};

const isSelfIssued = (cert: X509Certificate): boolean => cert.subject === cert.issuer;

/** Issuers must be CAs allowed to sign certificates, and pathLenConstraint must hold. */
export const checkIssuerConstraints = (path: readonly X509Certificate[]): void => {
  for (let index = 1; index < path.length; index += 1) {
    const cert = path[index]!;
    const isAnchor = index === path.length - 1;
    const what = `${role(index, path.length)} ${certificateLabel(cert)}`;
    const constraints = readBasicConstraints(cert);
    // RFC 5280 6.1.4 (k): intermediates need cA=true. An anchor without the extension
    // (a v1 root) is accepted as configured, but one that says cA=false is not.
    if (constraints ? !constraints.ca : !isAnchor) {
      throw new CertificateError(
        'wrong_usage',
        `${what} is not a CA (basicConstraints cA is not true)`,
      );
    }
    const keyUsage = readKeyUsage(cert);
    if (keyUsage !== null && !(keyUsage & KeyUsageFlags.keyCertSign)) {
      throw new CertificateError('wrong_usage', `${what} keyUsage lacks keyCertSign`);
    }
    // RFC 5280 4.2.1.9: pathLen counts the non-self-issued intermediates below this CA.
    const below = path.slice(1, index).filter((c) => !isSelfIssued(c)).length;
    if (constraints?.pathLength !== undefined && below > constraints.pathLength) {
      throw new CertificateError(
        'wrong_usage',
        `${what} allows ${constraints.pathLength} intermediate(s) below it, path has ${below}`,
      );
    }
  }
};

/** Leaf rules for login: an end-entity key for signing, client authentication, policy. */
export const checkLeafUsage = (leaf: X509Certificate, policyOids: readonly string[]): void => {
  if (readBasicConstraints(leaf)?.ca) {
    throw new CertificateError('wrong_usage', 'a CA certificate cannot be used to sign in');
  }
  const keyUsage = readKeyUsage(leaf);
  if (keyUsage !== null && !(keyUsage & KeyUsageFlags.digitalSignature)) {
    throw new CertificateError('wrong_usage', 'certificate keyUsage lacks digitalSignature');
  }
  const extendedKeyUsage = readExtendedKeyUsage(leaf);
  if (extendedKeyUsage !== null && !extendedKeyUsage.includes(OID.clientAuth)) {
    throw new CertificateError('wrong_usage', 'certificate extendedKeyUsage lacks clientAuth');
  }
  if (policyOids.length > 0) {
    const policies = readPolicies(leaf);
    if (!policies.some((policy) => policyOids.includes(policy))) {
      throw new CertificateError(
        'policy_mismatch',
        `certificate policies [${policies.join(', ')}] include none of the accepted policies`,
      );
    }
  }
};
