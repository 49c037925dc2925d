// RFC 8705 2.1 (tls_client_auth, the PKI method): agency systems authenticate with certificates
// issued by CAs the operator trusts for that purpose (CLIENT_CERT_TRUST_ANCHORS), a bundle kept
// apart from citizens' CAs (CERT_TRUST_ANCHORS). The path, validity, usage and revocation are
// checked as for certificate sign-in; the registered subject (DN or one SAN) names the system.
import { readFileSync } from 'node:fs';
import type { RevocationOptions } from './revocation-checker.ts';
import { createCertificateValidator } from './chain-validator.ts';
import { OID } from './certificate-extensions.ts';
import { Name, type SubjectAlternativeNameExtension, X509Certificate } from './x509.ts';

/** The RFC 8705 2.1.2 metadata fields that name the certificate's subject (one per client). */
export type SubjectField =
  | 'tls_client_auth_subject_dn'
  | 'tls_client_auth_san_dns'
  | 'tls_client_auth_san_uri'
  | 'tls_client_auth_san_ip'
  | 'tls_client_auth_san_email';

type Options = { anchorsPath: string; revocation: RevocationOptions; now?: () => Date };

/** A DN as comparable RDNs: attribute=value, values case- and space-insensitive (RFC 4517 4.2.15). */
const rdns = (name: Name) =>
  name.toJSON().map((rdn) =>
    Object.entries(rdn)
      .flatMap(([type, values]) =>
        values.map((v) => `${type.toUpperCase()}=${v.trim().replace(/\s+/g, ' ').toLowerCase()}`),
      )
      .sort()
      .join('+'),
  );

/**
 * RFC 4514 writes a DN most specific first (CN=..., O=..., C=KR), the certificate holds it the
 * other way round; either order of the registered string matches.
 */
const sameDn = (cert: X509Certificate, expected: string) => {
  let wanted: string[];
  try {
    wanted = rdns(new Name(expected));
  } catch {
    return false;
  }
  const held = rdns(cert.subjectName).join(',');
  return wanted.join(',') === held || [...wanted].reverse().join(',') === held;
};

const SAN_TYPE = {
  tls_client_auth_san_dns: 'dns',
  tls_client_auth_san_uri: 'url',
  tls_client_auth_san_ip: 'ip',
  tls_client_auth_san_email: 'email',
} as const;

/** Whether the certificate's subject is the registered one (RFC 8705 2.1.2: exact SAN entries). */
export const certificateSubjectMatches = (
  der: Uint8Array,
  field: SubjectField,
  expected: string,
): boolean => {
  const cert = new X509Certificate(new Uint8Array(der));
  if (field === 'tls_client_auth_subject_dn') return sameDn(cert, expected);
  const san = cert.getExtension<SubjectAlternativeNameExtension>(OID.subjectAltName);
  const type = SAN_TYPE[field];
  const same = (value: string) =>
    type === 'dns' || type === 'email'
      ? value.toLowerCase() === expected.toLowerCase()
      : value === expected;
  return Boolean(san?.names.items.some((n) => n.type === type && same(n.value)));
};

/**
 * The trust for agency systems' client certificates. Throws, naming the setting, when the bundle
 * cannot be read or holds no certificate. `verify` rejects (CertificateError) when the
 * certificate does not chain to the bundle or is expired, misused or revoked.
 */
export const createClientCertificateAuthority = ({ anchorsPath, revocation, now }: Options) => {
  let pem: string;
  try {
    pem = readFileSync(anchorsPath, 'utf8');
  } catch (cause) {
    throw new Error(`CLIENT_CERT_TRUST_ANCHORS: cannot read ${anchorsPath}`, { cause });
  }
  let validator;
  try {
    validator = createCertificateValidator({
      trustAnchorsPem: pem,
      revocation,
      ...(now && { now }),
    });
  } catch (cause) {
    throw new Error(
      `CLIENT_CERT_TRUST_ANCHORS: ${anchorsPath} is not a PEM bundle of CA certificates`,
      { cause },
    );
  }
  return {
    /** The leaf and the intermediates the client sent (DER), in any order. */
    verify: (leaf: Uint8Array, intermediates: readonly Uint8Array[] = []) =>
      validator.validate(leaf, intermediates),
    subjectMatches: certificateSubjectMatches,
  };
};

export type ClientCertificateAuthority = ReturnType<typeof createClientCertificateAuthority>;
