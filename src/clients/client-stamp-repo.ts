import type { Knex } from 'knex';

/** Bumps the named change counter inside the caller's transaction; returns the new value. */
export const bumpStamp = async (trx: Knex, name: string): Promise<string> => {
  const [row] = await trx('version_stamps')
    .where({ name })
    .increment('value', 1)
    .returning('value');
  if (row) return String(row.value);
  await trx('version_stamps')
    .insert({ name, value: 1 })
    .onConflict('name')
    .merge({ value: trx.raw('version_stamps.value + 1') });
  return String((await trx('version_stamps').where({ name }).first('value')).value);
};

/** The named change counter's committed value ('0' before any change). */
export const readStamp = async (db: Knex, name: string): Promise<string> =>
  String((await db('version_stamps').where({ name }).first('value'))?.value ?? '0');
