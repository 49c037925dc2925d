// Linking a validated certificate to an account: the row and its `auth.certificate.linked` audit
// record, written in the caller's transaction (a link from My One-ID, or a renewed certificate
// recognised at sign-in by its subject key).
import type { Knex } from 'knex';
import { appendAudit } from '../../audit/index.ts';
import { insertCertificate } from './certificate-repo.ts';
import type { ValidatedCertificate } from './validation/validated-certificate.ts';

export const linkCertificate = async (
  trx: Knex.Transaction,
  link: {
    accountId: string;
    subjectKey: string;
    cert: ValidatedCertificate;
    ip?: string | undefined;
    details: Record<string, unknown> & { via: string };
  },
): Promise<void> => {
  const { accountId, subjectKey, cert } = link;
  await insertCertificate(trx, {
    fingerprint: cert.fingerprintSha256,
    accountId,
    subjectKey,
    issuer: cert.issuer,
    serial: cert.serialNumber,
    subject: cert.subject,
    notAfter: cert.notAfter,
  });
  await appendAudit(trx, {
    action: 'auth.certificate.linked',
    actor: `account:${accountId}`,
    subject: `account:${accountId}`,
    ip: link.ip,
    details: {
      fingerprint: cert.fingerprintSha256,
      serial: cert.serialNumber,
      issuer: cert.issuer,
      ...link.details,
    },
  });
};
