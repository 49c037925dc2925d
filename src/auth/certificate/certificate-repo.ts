// Certificates linked to accounts (table account_certificates). Functions take the handle
// (knex or a transaction) first; rows are mapped to camelCase here.
import type { Knex } from 'knex';

export type LinkedCertificate = {
  fingerprint: string;
  accountId: string;
  subjectKey: string;
  issuer: string;
  serial: string;
  subject: string;
  notAfter: Date;
  createdAt: Date;
  lastUsedAt: Date | null;
};

type Row = {
  fingerprint: string;
  account_id: string;
  subject_key: string;
  issuer: string;
  serial: string;
  subject: string;
  not_after: Date | string;
  created_at: Date | string;
  last_used_at: Date | string | null;
};

const toLinked = (row: Row): LinkedCertificate => ({
  fingerprint: row.fingerprint,
  accountId: row.account_id,
  subjectKey: row.subject_key,
  issuer: row.issuer,
  serial: row.serial,
  subject: row.subject,
  notAfter: new Date(row.not_after),
  createdAt: new Date(row.created_at),
  lastUsedAt: row.last_used_at ? new Date(row.last_used_at) : null,
});

export const findCertificateByFingerprint = async (db: Knex, fingerprint: string): Promise<LinkedCertificate | undefined> => {
  const row = await db<Row>('account_certificates').where({ fingerprint }).first();
  return row ? toLinked(row) : undefined;
};

/** The account that holds certificates with this subject key (the most recently linked one wins). */
export const findAccountIdBySubjectKey = async (db: Knex, subjectKey: string): Promise<string | undefined> => {
  const row = await db<Row>('account_certificates').where({ subject_key: subjectKey }).orderBy('created_at', 'desc').first('account_id');
  if (row) return row.account_id;
  // A member imported with the key their certificate will map to (accounts import, cert_subject_serial).
  return (await db('account_subject_keys').where({ subject_key: subjectKey }).first('account_id'))?.account_id;
};

export const insertCertificate = async (db: Knex, c: Omit<LinkedCertificate, 'createdAt' | 'lastUsedAt'> & { lastUsedAt?: Date }): Promise<void> => {
  await db('account_certificates').insert({
    fingerprint: c.fingerprint,
    account_id: c.accountId,
    subject_key: c.subjectKey,
    issuer: c.issuer,
    serial: c.serial,
    subject: c.subject,
    not_after: c.notAfter,
    last_used_at: c.lastUsedAt ?? null,
  });
};

export const recordCertificateUse = async (db: Knex, fingerprint: string, at: Date): Promise<void> => {
  await db('account_certificates').where({ fingerprint }).update({ last_used_at: at });
};

export const listCertificates = async (db: Knex, accountId: string): Promise<LinkedCertificate[]> =>
  (await db<Row>('account_certificates').where({ account_id: accountId }).orderBy('created_at')).map(toLinked);

/**
 * Serialises linking for one subject key until the transaction ends (PostgreSQL advisory
 * lock), so two concurrent first sign-ins with the same identity cannot create two accounts.
 */
export const lockSubjectKey = async (trx: Knex.Transaction, subjectKey: string): Promise<void> => {
  await trx.raw('select pg_advisory_xact_lock(hashtextextended(?, 0))', [`account_certificates:${subjectKey}`]);
};
