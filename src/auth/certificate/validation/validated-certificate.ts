// The result of a successful validation: what login, account mapping and audit need.
import { createHash } from 'node:crypto';
import { derToPem } from './certificate-encoding.ts';
import {
  OID,
  readDateOfBirth,
  readPolicies,
  readSubjectAltNames,
  type SanOtherName,
} from './certificate-extensions.ts';
import type { RevocationStatus } from '../revocation/revocation-checker.ts';
import type { X509Certificate } from './x509.ts';

export interface ValidatedCertificate {
  /** Lowercase hex SHA-256 of the leaf DER: identifies this exact certificate. */
  fingerprintSha256: string;
  /** Lowercase hex certificate serial number (unique per issuer only). */
  serialNumber: string;
  /** RFC 4514-style DN strings as printed by @peculiar/x509. */
  issuer: string;
  subject: string;
  /** Subject DN serialNumber attribute (OID 2.5.4.5): the holder's id within the CA. */
  subjectSerialNumber?: string;
  commonName?: string;
  sanEmails: string[];
  sanOtherNames?: SanOtherName[];
  notBefore: Date;
  notAfter: Date;
  /** certificatePolicies OIDs of the leaf. */
  policies: string[];
  /** PEM certificates of the validated path: leaf first, trust anchor last. */
  chain: string[];
  /** DN of the trust anchor the path ends at: scopes holder ids to one CA hierarchy. */
  trustAnchorSubject: string;
  /** Display name: the CN, else givenName + surname. */
  name?: string;
  /** YYYY-MM-DD from subjectDirectoryAttributes dateOfBirth (RFC 3739). */
  birthdate?: string;
  /** 'unknown' only when revocation.failOpen let an unchecked certificate through: audit it. */
  revocation: RevocationStatus;
}

const first = (cert: X509Certificate, oid: string): string | undefined =>
  cert.subjectName.getField(oid)[0];

export const describeCertificate = (
  path: readonly X509Certificate[],
  revocation: RevocationStatus,
): ValidatedCertificate => {
  const leaf = path[0]!;
  const anchor = path[path.length - 1]!;
  const der = Buffer.from(leaf.rawData);
  const san = readSubjectAltNames(leaf);
  const commonName = first(leaf, OID.commonName);
  const givenName = first(leaf, OID.givenName);
  const surname = first(leaf, OID.surname);
  const name = commonName ?? (givenName && surname ? `${givenName} ${surname}` : undefined);
  const subjectSerialNumber = first(leaf, OID.serialNumber);
  const birthdate = readDateOfBirth(leaf);
  return {
    fingerprintSha256: createHash('sha256').update(der).digest('hex'),
    serialNumber: leaf.serialNumber.toLowerCase(),
    issuer: leaf.issuer,
    subject: leaf.subject,
    ...(subjectSerialNumber !== undefined ? { subjectSerialNumber } : {}),
    ...(commonName !== undefined ? { commonName } : {}),
    sanEmails: san.emails,
    ...(san.otherNames.length > 0 ? { sanOtherNames: san.otherNames } : {}),
    notBefore: leaf.notBefore,
    notAfter: leaf.notAfter,
    policies: readPolicies(leaf),
    chain: path.map((cert) => derToPem(new Uint8Array(cert.rawData))),
    trustAnchorSubject: anchor.subject,
    ...(name !== undefined ? { name } : {}),
    ...(birthdate !== undefined ? { birthdate } : {}),
    revocation,
  };
};
