// The pairwise `sub`s One-ID has issued (table pairwise_subjects): an HMAC cannot be reversed,
// so a client naming a citizen by its sub is resolved through this index.
import type { Knex } from 'knex';

export const recordSubject = async (
  db: Knex,
  sector: string,
  sub: string,
  accountId: string,
): Promise<void> => {
  await db('pairwise_subjects')
    .insert({ sector, sub, account_id: accountId })
    .onConflict(['sector', 'sub'])
    .ignore();
};

export const findAccountIdBySubject = async (
  db: Knex,
  sector: string,
  sub: string,
): Promise<string | undefined> =>
  (await db('pairwise_subjects').where({ sector, sub }).first('account_id'))?.account_id;
