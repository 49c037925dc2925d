// RFC 8705 2.1 (tls_client_auth, the PKI method): agency systems authenticate with certificates
// issued by CAs the operator trusts for that purpose (CLIENT_CERT_TRUST_ANCHORS), a bundle kept
// apart from citizens' CAs (CERT_TRUST_ANCHORS). The path, validity, usage and revocation are
// checked as for certificate sign-in; the registered subject (DN or one SAN) names the system.
// A refused certificate is audited and logged by its issuer and serial, never its subject.
import { readFileSync } from 'node:fs';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { appendAudit } from '../../audit/index.ts';
import type { RevocationOptions } from './revocation/revocation-checker.ts';
import { createCertificateValidator } from './validation/chain-validator.ts';
import { OID } from './validation/certificate-extensions.ts';
import { Name, type SubjectAlternativeNameExtension, X509Certificate } from './validation/x509.ts';

/** The RFC 8705 2.1.2 metadata fields that name the certificate's subject (one per client). */
export type SubjectField =
  | 'tls_client_auth_subject_dn'
  | 'tls_client_auth_san_dns'
  | 'tls_client_auth_san_uri'
  | 'tls_client_auth_san_ip'
  | 'tls_client_auth_san_email';

type Options = {
  anchorsPath: string;
  revocation: RevocationOptions;
  now?: () => Date;
  /** Where refusals are audited (clients.certificate.refused) and logged. */
  knex: Knex;
  log: Logger;
};

/**
 * Why a client certificate was refused: a certificate check's reason (certificate-errors.ts:
 * untrusted, expired, revoked, ...) or `subject_mismatch` (not the registered subject).
 */
export type ClientCertificateRefusal = {
  clientId: string;
  reason: string;
  /** The certificate presented (DER). */
  der: Uint8Array;
  ip?: string | undefined;
};

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
export const createClientCertificateAuthority = ({
  anchorsPath,
  revocation,
  now,
  knex,
  log,
}: Options) => {
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
    /**
     * Audits and logs a certificate refused for a client (the engine answers invalid_client).
     * The issuer and serial name it; its subject stays out: a citizen's certificate sent here
     * carries the citizen's name and identifiers. An audit store that fails is logged, not
     * thrown: the refusal stands either way.
     */
    refused: async ({ clientId, reason, der, ip }: ClientCertificateRefusal) => {
      let facts: { issuer: string; serial: string } | undefined;
      try {
        const cert = new X509Certificate(new Uint8Array(der));
        facts = { issuer: cert.issuer, serial: cert.serialNumber.toLowerCase() };
      } catch {
        facts = undefined;
      }
      const details = { reason, ...facts };
      log.warn({ clientId, ...details }, 'client certificate refused (RFC 8705 tls_client_auth)');
      await knex
        .transaction((trx) =>
          appendAudit(trx, {
            action: 'clients.certificate.refused',
            actor: 'anonymous',
            subject: `client:${clientId}`,
            ip,
            details,
          }),
        )
        .catch((err: unknown) =>
          log.error({ err, clientId }, 'audit of a refused certificate failed'),
        );
    },
  };
};

export type ClientCertificateAuthority = ReturnType<typeof createClientCertificateAuthority>;
