// The pairwise `sub`s One-ID has issued (table pairwise_subjects): an HMAC cannot be reversed,
// so a client naming a citizen by its sub is resolved through this index.
import type { Knex } from 'knex';
import { prepared } from '../store/index.ts';

export const recordSubject = async (
  db: Knex,
  sector: string,
  sub: string,
  accountId: string,
): Promise<void> => {
  // On the sign-in's path (a first sign-in to a sector): prepared, no query building.
  await prepared(
    db,
    'pairwise_subject_insert',
    'INSERT INTO pairwise_subjects (sector, sub, account_id) VALUES ($1, $2, $3) ON CONFLICT (sector, sub) DO NOTHING',
    [sector, sub, accountId],
  );
};

export const findAccountIdBySubject = async (
  db: Knex,
  sector: string,
  sub: string,
): Promise<string | undefined> =>
  (await db('pairwise_subjects').where({ sector, sub }).first('account_id'))?.account_id;
