// Writes of `accounts import`: a batch of members upserted by legacy_id in one statement (rows
// passed as parallel arrays, expanded by unnest()), their certificate subject keys, and the
// file's checkpoint, all in the caller's transaction.
import type { Knex } from 'knex';

export type ImportedAccountRow = {
  id: string;
  legacyId: string;
  name: string;
  birthdate: string;
  email: string | null;
  phoneNumber: string | null;
  webauthnUserId: string;
  subjectKey: string | null;
};

export type ImportCheckpoint = { id: string; file: string; columns: string[]; byteOffset: number; line: number; imported: number; rejected: number; finishedAt: Date | null };

// knex's binding types know no nullable arrays; pg sends an array parameter as a PostgreSQL array.
const column = <T, V>(rows: T[], pick: (row: T) => V) => rows.map(pick) as unknown as string[];

/**
 * Inserts new members and updates known ones (by legacy_id); an unchanged row is left alone.
 * The id and WebAuthn user handle of a new row are only used when it is new. Returns the
 * accounts by legacy id, and how many were inserted or changed.
 */
export const upsertImportedAccounts = async (trx: Knex, rows: ImportedAccountRow[]): Promise<{ accountIds: Map<string, string>; inserted: number; updated: number }> => {
  if (!rows.length) return { accountIds: new Map(), inserted: 0, updated: 0 };
  const result = await trx.raw(
    `insert into accounts (id, legacy_id, name, birthdate, email, phone_number, webauthn_user_id)
     select * from unnest(?::uuid[], ?::text[], ?::text[], ?::date[], ?::text[], ?::text[], ?::text[])
     on conflict (legacy_id) where legacy_id is not null do update
       set name = excluded.name, birthdate = excluded.birthdate, email = excluded.email, phone_number = excluded.phone_number, updated_at = now()
       where (accounts.name, accounts.birthdate, accounts.email, accounts.phone_number) is distinct from (excluded.name, excluded.birthdate, excluded.email, excluded.phone_number)
     returning id, legacy_id, (xmax = 0) as inserted`,
    [column(rows, (r) => r.id), column(rows, (r) => r.legacyId), column(rows, (r) => r.name), column(rows, (r) => r.birthdate), column(rows, (r) => r.email), column(rows, (r) => r.phoneNumber), column(rows, (r) => r.webauthnUserId)],
  );
  const changed = result.rows as { id: string; legacy_id: string; inserted: boolean }[];
  const accountIds = new Map(changed.map((r) => [r.legacy_id, r.id]));
  const inserted = changed.filter((r) => r.inserted).length;
  // Rows left unchanged are not returned: look up the ones whose subject key must be recorded.
  const missing = rows.filter((r) => r.subjectKey && !accountIds.has(r.legacyId)).map((r) => r.legacyId);
  if (missing.length) {
    const known = await trx.raw('select id, legacy_id from accounts where legacy_id = any(?::text[])', [missing]);
    for (const r of known.rows as { id: string; legacy_id: string }[]) accountIds.set(r.legacy_id, r.id);
  }
  const keyed = rows.filter((r) => r.subjectKey && accountIds.has(r.legacyId));
  if (keyed.length) {
    await trx.raw(
      `insert into account_subject_keys (subject_key, account_id)
       select * from unnest(?::text[], ?::uuid[])
       on conflict (subject_key) do update set account_id = excluded.account_id where account_subject_keys.account_id <> excluded.account_id`,
      [column(keyed, (r) => r.subjectKey), column(keyed, (r) => accountIds.get(r.legacyId))],
    );
  }
  return { accountIds, inserted, updated: changed.length - inserted };
};

const toCheckpoint = (r: Record<string, any>): ImportCheckpoint => ({
  id: r.id,
  file: r.file,
  columns: r.columns,
  byteOffset: Number(r.byte_offset),
  line: Number(r.line),
  imported: Number(r.imported),
  rejected: Number(r.rejected),
  finishedAt: r.finished_at ? new Date(r.finished_at) : null,
});

export const findImportCheckpoint = async (db: Knex, id: string): Promise<ImportCheckpoint | undefined> => {
  const row = await db('account_imports').where({ id }).first();
  return row ? toCheckpoint(row) : undefined;
};

/** Starts (or restarts from the beginning) the checkpoint of an import file. */
export const startImportCheckpoint = async (db: Knex, c: Pick<ImportCheckpoint, 'id' | 'file' | 'columns'> & { actor: string }): Promise<void> => {
  await db('account_imports')
    .insert({ id: c.id, file: c.file, columns: JSON.stringify(c.columns), actor: c.actor })
    .onConflict('id')
    .merge({ file: c.file, columns: JSON.stringify(c.columns), actor: c.actor, byte_offset: 0, line: 1, imported: 0, rejected: 0, started_at: db.fn.now(), updated_at: db.fn.now(), finished_at: null });
};

/**
 * Moves the checkpoint from `from` (the end of the previous batch) past the rows just written,
 * inside the same transaction as those rows. Waits for the previous batch's transaction (its row
 * lock); false when the checkpoint is not at `from` (that batch did not commit).
 */
export const advanceImportCheckpoint = async (trx: Knex, id: string, c: { from: number; byteOffset: number; line: number; imported: number; rejected: number; finished?: boolean }): Promise<boolean> =>
  (await trx('account_imports')
    .where({ id, byte_offset: c.from })
    .update({ byte_offset: c.byteOffset, line: c.line, imported: c.imported, rejected: c.rejected, updated_at: trx.fn.now(), ...(c.finished && { finished_at: trx.fn.now() }) })) === 1;

/** An imported member's account id, by the portal's member id. */
export const findAccountIdByLegacyId = async (db: Knex, legacyId: string): Promise<string | undefined> =>
  (await db('accounts').where({ legacy_id: legacyId }).first('id'))?.id;
