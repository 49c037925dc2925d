import type { Knex } from 'knex';

export type EnrolmentLink = { id: string; accountId: string; expiresAt: Date; usedAt: Date | null };

export const insertEnrolmentLink = async (
  db: Knex,
  link: { id: string; accountId: string; tokenHash: string; expiresAt: Date; issuedBy: string },
): Promise<void> => {
  await db('enrolment_links').insert({
    id: link.id,
    account_id: link.accountId,
    token_hash: link.tokenHash,
    expires_at: link.expiresAt,
    issued_by: link.issuedBy,
  });
};

export const findEnrolmentLink = async (
  db: Knex,
  tokenHash: string,
): Promise<EnrolmentLink | undefined> => {
  const row = await db('enrolment_links').where({ token_hash: tokenHash }).first();
  return row
    ? {
        id: row.id,
        accountId: row.account_id,
        expiresAt: new Date(row.expires_at),
        usedAt: row.used_at ? new Date(row.used_at) : null,
      }
    : undefined;
};

/** Marks the link used; false when it was already used (single use, race-safe). */
export const markEnrolmentLinkUsed = async (db: Knex, id: string, at: Date): Promise<boolean> =>
  (await db('enrolment_links').where({ id }).whereNull('used_at').update({ used_at: at })) === 1;
