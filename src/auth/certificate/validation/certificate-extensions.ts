// Typed readers for the X.509 extensions certificate login relies on (RFC 5280 4.2).
// Any decoding failure is reported as CertificateError('malformed').
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  CRLDistributionPoints,
  SubjectAlternativeName,
  SubjectDirectoryAttributes,
} from '@peculiar/asn1-x509';
import { CertificateError } from '../certificate-errors.ts';
import { readTlv } from './der-reader.ts';
import {
  AuthorityInfoAccessExtension,
  BasicConstraintsExtension,
  CertificatePolicyExtension,
  ExtendedKeyUsageExtension,
  KeyUsagesExtension,
  type Extension,
  type X509Certificate,
} from './x509.ts';
import { certificateLabel } from '../certificate-label.ts';

export const OID = {
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  certificatePolicies: '2.5.29.32',
  subjectAltName: '2.5.29.17',
  issuerAltName: '2.5.29.18',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  crlDistributionPoints: '2.5.29.31',
  subjectDirectoryAttributes: '2.5.29.9',
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  ocspSigning: '1.3.6.1.5.5.7.3.9',
  dateOfBirth: '1.3.6.1.5.5.7.9.1',
  commonName: '2.5.4.3',
  surname: '2.5.4.4',
  serialNumber: '2.5.4.5',
  givenName: '2.5.4.42',
} as const;

// Extensions this module understands. RFC 5280 4.2: a certificate with a critical
// extension we cannot process (name constraints, policy constraints, ...) MUST be rejected.
export const SUPPORTED_EXTENSIONS: ReadonlySet<string> = new Set([
  OID.basicConstraints,
  OID.keyUsage,
  OID.extKeyUsage,
  OID.certificatePolicies,
  OID.subjectAltName,
  OID.issuerAltName,
  OID.subjectKeyIdentifier,
  OID.authorityKeyIdentifier,
  OID.crlDistributionPoints,
  OID.subjectDirectoryAttributes,
  OID.authorityInfoAccess,
]);

const decode = <T>(cert: X509Certificate, what: string, read: () => T): T => {
  try {
    return read();
  } catch (cause) {
    if (cause instanceof CertificateError) throw cause;
    throw new CertificateError('malformed', `cannot decode ${what} of ${certificateLabel(cert)}`, {
      cause,
    });
  }
};

/** All extensions; rejects duplicates (RFC 5280 4.2: at most one instance per OID). */
export const listExtensions = (cert: X509Certificate): Extension[] =>
  decode(cert, 'extensions', () => {
    const extensions = cert.extensions;
    const seen = new Set<string>();
    for (const ext of extensions) {
      if (seen.has(ext.type))
        throw new CertificateError(
          'malformed',
          `duplicate extension ${ext.type} in ${certificateLabel(cert)}`,
        );
      seen.add(ext.type);
    }
    return extensions;
  });

const rawExtension = (cert: X509Certificate, oid: string): Extension | undefined =>
  listExtensions(cert).find((ext) => ext.type === oid);

export const readBasicConstraints = (
  cert: X509Certificate,
): { ca: boolean; pathLength?: number } | null =>
  decode(cert, 'basicConstraints', () => {
    const ext = cert.getExtension(BasicConstraintsExtension);
    return ext
      ? { ca: ext.ca, ...(ext.pathLength !== undefined ? { pathLength: ext.pathLength } : {}) }
      : null;
  });

/** KeyUsageFlags bit set, or null when the extension is absent. */
export const readKeyUsage = (cert: X509Certificate): number | null =>
  decode(cert, 'keyUsage', () => cert.getExtension(KeyUsagesExtension)?.usages ?? null);

export const readExtendedKeyUsage = (cert: X509Certificate): string[] | null =>
  decode(cert, 'extendedKeyUsage', () => {
    const ext = cert.getExtension(ExtendedKeyUsageExtension);
    return ext ? ext.usages.map(String) : null;
  });

export const readPolicies = (cert: X509Certificate): string[] =>
  decode(cert, 'certificatePolicies', () => [
    ...(cert.getExtension(CertificatePolicyExtension)?.policies ?? []),
  ]);

const isHttpUrl = (url: string): boolean => /^https?:\/\//i.test(url);

/** http(s) CRL distribution point URLs. Points limited to some reasons or with an
 * indirect cRLIssuer are skipped: they cannot prove the certificate unrevoked. */
export const readCrlUrls = (cert: X509Certificate): string[] =>
  decode(cert, 'cRLDistributionPoints', () => {
    const ext = rawExtension(cert, OID.crlDistributionPoints);
    if (!ext) return [];
    return AsnConvert.parse(ext.value, CRLDistributionPoints)
      .filter((point) => !point.reasons && !point.cRLIssuer)
      .flatMap((point) => point.distributionPoint?.fullName ?? [])
      .map((name) => name.uniformResourceIdentifier)
      .filter((url): url is string => url !== undefined && isHttpUrl(url));
  });

export const readOcspUrls = (cert: X509Certificate): string[] =>
  decode(cert, 'authorityInfoAccess', () => {
    const ext = cert.getExtension(AuthorityInfoAccessExtension);
    return (ext?.ocsp ?? [])
      .filter((name) => name.type === 'url' && isHttpUrl(name.value))
      .map((name) => name.value);
  });

export interface SanOtherName {
  typeId: string;
  /** base64 DER of the value inside the [0] EXPLICIT wrapper. */
  value: string;
  /** The value as text when it is a UTF8/IA5/Printable/Visible string. */
  text?: string;
}

const STRING_TAGS = new Set([0x0c, 0x13, 0x16, 0x1a]);

const otherNameText = (der: Uint8Array): string | undefined => {
  try {
    const tlv = readTlv(der, 0);
    if (!STRING_TAGS.has(tlv.tag) || tlv.end !== der.length) return undefined;
    return Buffer.from(der.subarray(tlv.valueStart, tlv.end)).toString('utf8');
  } catch {
    return undefined;
  }
};

export const readSubjectAltNames = (
  cert: X509Certificate,
): { emails: string[]; otherNames: SanOtherName[] } =>
  decode(cert, 'subjectAltName', () => {
    const ext = rawExtension(cert, OID.subjectAltName);
    if (!ext) return { emails: [], otherNames: [] };
    const names = AsnConvert.parse(ext.value, SubjectAlternativeName);
    const emails = names
      .map((name) => name.rfc822Name)
      .filter((email): email is string => email !== undefined);
    const otherNames = names.flatMap((name) => {
      if (!name.otherName) return [];
      const der = new Uint8Array(name.otherName.value);
      const text = otherNameText(der);
      return [
        {
          typeId: name.otherName.typeId,
          value: Buffer.from(der).toString('base64'),
          ...(text !== undefined ? { text } : {}),
        },
      ];
    });
    return { emails, otherNames };
  });

// RFC 3739 3.2.2: dateOfBirth is a GeneralizedTime, recommended at 12:00 GMT so the
// calendar date survives time zones. We keep the literal date part.
export const readDateOfBirth = (cert: X509Certificate): string | undefined =>
  decode(cert, 'subjectDirectoryAttributes', () => {
    const ext = rawExtension(cert, OID.subjectDirectoryAttributes);
    if (!ext) return undefined;
    const attribute = AsnConvert.parse(ext.value, SubjectDirectoryAttributes).find(
      (attr) => attr.type === OID.dateOfBirth,
    );
    const value = attribute?.values[0];
    if (!value) return undefined;
    const der = new Uint8Array(value);
    const tlv = readTlv(der, 0);
    const text = Buffer.from(der.subarray(tlv.valueStart, tlv.end)).toString('latin1');
    const match = tlv.tag === 0x18 ? /^(\d{4})(\d{2})(\d{2})/.exec(text) : null;
    if (!match) throw new CertificateError('malformed', 'dateOfBirth is not a GeneralizedTime');
    return `${match[1]}-${match[2]}-${match[3]}`;
  });
