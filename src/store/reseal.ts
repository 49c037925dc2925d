// Rotation of KEY_ENCRYPTION_KEYS: re-seals every secret stored at rest with the first key.
// Every `*_sealed` column of the schema is found in the catalogue (signing_keys.private_jwk_sealed,
// clients.secret_sealed, clients.previous_secret_sealed, and any added later), so a new sealed
// column needs no change here. One transaction: all values move to the new key, or none does.
import type { Knex } from 'knex';
import { AppError, type SecretBox } from '../shared/index.ts';

export type ResealReport = { column: string; rows: number; resealed: number }[];

type Column = { table: string; column: string };

const sealedColumns = async (knex: Knex): Promise<Column[]> => {
  const { rows } = (await knex.raw(
    `select table_name as "table", column_name as "column" from information_schema.columns
      where table_schema = current_schema() and column_name like '%\\_sealed' escape '\\'
      order by table_name, column_name`,
  )) as { rows: Column[] };
  return rows;
};

const primaryKey = async (knex: Knex, table: string): Promise<string[]> => {
  const { rows } = (await knex.raw(
    `select a.attname as name from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
      where i.indrelid = ?::regclass and i.indisprimary order by a.attnum`,
    [table],
  )) as { rows: { name: string }[] };
  if (!rows.length) throw new TypeError(`table ${table} has a sealed column but no primary key`);
  return rows.map((r) => r.name);
};

/**
 * Opens every sealed value with any configured key and seals it again with the first one.
 * Values already under the first key are left alone, so running it twice is harmless. A value
 * no configured key opens aborts the whole run (nothing is changed) and names its row.
 */
export const resealAll = async (knex: Knex, box: SecretBox): Promise<ResealReport> =>
  knex.transaction(async (trx) => {
    const report: ResealReport = [];
    for (const { table, column } of await sealedColumns(trx)) {
      const key = await primaryKey(trx, table);
      // FOR UPDATE: a secret rotated by an administrator meanwhile waits for this transaction.
      const rows = (await trx(table)
        .select([...key, column])
        .whereNotNull(column)
        .forUpdate()) as Record<string, unknown>[];
      let resealed = 0;
      for (const row of rows) {
        const sealed = String(row[column]);
        if (!box.needsReseal(sealed)) continue;
        let plain: string;
        try {
          plain = box.open(sealed);
        } catch {
          const id = key.map((k) => `${k}=${String(row[k])}`).join(',');
          throw new AppError(
            'ERR_SECRET_KEY_UNKNOWN',
            `${table}.${column} (${id}) was sealed with a key not in KEY_ENCRYPTION_KEYS; nothing was changed`,
            { status: 500 },
          );
        }
        await trx(table)
          .where(Object.fromEntries(key.map((k) => [k, row[k]])))
          .update({ [column]: box.seal(plain) });
        resealed += 1;
      }
      report.push({ column: `${table}.${column}`, rows: rows.length, resealed });
    }
    return report;
  });
