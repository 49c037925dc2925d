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
  /** The citizen's own name for it; null: show the subject. */
  label: string | null;
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
  label: string | null;
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
  label: row.label ?? null,
  notAfter: new Date(row.not_after),
  createdAt: new Date(row.created_at),
  lastUsedAt: row.last_used_at ? new Date(row.last_used_at) : null,
});

export const findCertificateByFingerprint = async (
  db: Knex,
  fingerprint: string,
): Promise<LinkedCertificate | undefined> => {
  const row = await db<Row>('account_certificates').where({ fingerprint }).first();
  return row ? toLinked(row) : undefined;
};

/** The account that holds certificates with this subject key (the most recently linked one wins). */
export const findAccountIdBySubjectKey = async (
  db: Knex,
  subjectKey: string,
): Promise<string | undefined> => {
  const row = await db<Row>('account_certificates')
    .where({ subject_key: subjectKey })
    .orderBy('created_at', 'desc')
    .first('account_id');
  if (row) return row.account_id;
  // A member imported with the key their certificate will map to (accounts import, cert_subject_serial).
  return (await db('account_subject_keys').where({ subject_key: subjectKey }).first('account_id'))
    ?.account_id;
};

export const insertCertificate = async (
  db: Knex,
  c: Omit<LinkedCertificate, 'createdAt' | 'lastUsedAt' | 'label'> & { lastUsedAt?: Date },
): Promise<void> => {
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

export const recordCertificateUse = async (
  db: Knex,
  fingerprint: string,
  at: Date,
): Promise<void> => {
  await db('account_certificates').where({ fingerprint }).update({ last_used_at: at });
};

/**
 * Every account a subject key already belongs to: its linked certificates' accounts and an
 * imported member's key (account_subject_keys). Linking to an account not in this list, when
 * it is not empty, would let one identity reach two accounts.
 */
export const subjectKeyOwners = async (db: Knex, subjectKey: string): Promise<string[]> => {
  const linked = await db('account_certificates')
    .where({ subject_key: subjectKey })
    .distinct('account_id');
  const imported = await db('account_subject_keys')
    .where({ subject_key: subjectKey })
    .distinct('account_id');
  return [...new Set([...linked, ...imported].map((r: { account_id: string }) => r.account_id))];
};

/** Sets (or, with null, clears) the citizen's name for one of their certificates; false when it is not theirs. */
export const labelCertificate = async (
  db: Knex,
  accountId: string,
  fingerprint: string,
  label: string | null,
): Promise<boolean> =>
  (await db('account_certificates')
    .where({ fingerprint, account_id: accountId })
    .update({ label })) === 1;

export const listCertificates = async (db: Knex, accountId: string): Promise<LinkedCertificate[]> =>
  (
    await db<Row>('account_certificates').where({ account_id: accountId }).orderBy('created_at')
  ).map(toLinked);

/**
 * Serialises linking for one subject key until the transaction ends (PostgreSQL advisory
 * lock), so two concurrent first sign-ins with the same identity cannot create two accounts.
 */
export const lockSubjectKey = async (trx: Knex.Transaction, subjectKey: string): Promise<void> => {
  await trx.raw('select pg_advisory_xact_lock(hashtextextended(?, 0))', [
    `account_certificates:${subjectKey}`,
  ]);
};
