// Writes of `accounts import`: a batch of members upserted by legacy_id in one statement, their
// certificate subject keys, and the file's checkpoint, all in the caller's transaction. On
// PostgreSQL the batch is COPYed into a temporary staging table first (pg-copy-streams); on the
// embedded PGlite, which takes no COPY streams, it is passed as parallel arrays expanded by unnest().
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Knex } from 'knex';
import { from as copyFrom } from 'pg-copy-streams';

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

export type ImportCheckpoint = {
  id: string;
  file: string;
  columns: string[];
  byteOffset: number;
  line: number;
  imported: number;
  rejected: number;
  finishedAt: Date | null;
};

export type UpsertResult = { inserted: number; updated: number };

// knex's binding types know no nullable arrays; pg sends an array parameter as a PostgreSQL array.
const column = <T, V>(rows: T[], pick: (row: T) => V) => rows.map(pick) as unknown as string[];

// The staging table's columns (COPY order).
const ROW_COLUMNS =
  'id uuid, legacy_id text, name text, birthdate date, email text, phone_number text, webauthn_user_id text, subject_key text';

/**
 * Inserts the members of `source` (a relation `r` with the account columns, one row per
 * legacy_id) and updates the known ones; an unchanged row is left alone (and not returned). The
 * id and WebAuthn user handle of a row are only used when it is new. Counts what was inserted
 * and changed.
 */
const upsertFrom = (source: string) =>
  `with written as (
     insert into accounts (id, legacy_id, name, birthdate, email, phone_number, webauthn_user_id)
     select r.id, r.legacy_id, r.name, r.birthdate, r.email, r.phone_number, r.webauthn_user_id from ${source}
     on conflict (legacy_id) where legacy_id is not null do update
       set name = excluded.name, birthdate = excluded.birthdate, email = excluded.email, phone_number = excluded.phone_number, updated_at = now()
       where (accounts.name, accounts.birthdate, accounts.email, accounts.phone_number) is distinct from (excluded.name, excluded.birthdate, excluded.email, excluded.phone_number)
     returning (xmax = 0) as inserted)
   select count(*) filter (where inserted)::int as inserted, count(*)::int as changed from written`;

/** Records each subject key of `source` for its member's account (now written), moving a key that pointed elsewhere. */
const subjectKeysFrom = (source: string) =>
  `insert into account_subject_keys (subject_key, account_id)
   select r.subject_key, a.id from ${source} join accounts a on a.legacy_id = r.legacy_id
   where r.subject_key is not null
   on conflict (subject_key) do update set account_id = excluded.account_id where account_subject_keys.account_id <> excluded.account_id`;

const counted = (result: { rows: { inserted: number; changed: number }[] }): UpsertResult => {
  const { inserted, changed } = result.rows[0] ?? { inserted: 0, changed: 0 };
  return { inserted, updated: changed - inserted };
};

/** Upserts a batch by legacy_id (no legacy_id twice), passed as array parameters (PGlite and PostgreSQL). */
export const upsertImportedAccounts = async (
  trx: Knex,
  rows: ImportedAccountRow[],
): Promise<UpsertResult> => {
  if (!rows.length) return { inserted: 0, updated: 0 };
  const source =
    'unnest(?::uuid[], ?::text[], ?::text[], ?::date[], ?::text[], ?::text[], ?::text[]) as r(id, legacy_id, name, birthdate, email, phone_number, webauthn_user_id)';
  const result = await trx.raw(upsertFrom(source), [
    column(rows, (r) => r.id),
    column(rows, (r) => r.legacyId),
    column(rows, (r) => r.name),
    column(rows, (r) => r.birthdate),
    column(rows, (r) => r.email),
    column(rows, (r) => r.phoneNumber),
    column(rows, (r) => r.webauthnUserId),
  ]);
  const keyed = rows.filter((r) => r.subjectKey);
  if (keyed.length) {
    await trx.raw(subjectKeysFrom('unnest(?::text[], ?::text[]) as r(legacy_id, subject_key)'), [
      column(keyed, (r) => r.legacyId),
      column(keyed, (r) => r.subjectKey),
    ]);
  }
  return counted(result);
};

/** A value in COPY's text format: NULL as \N; backslash, tab, newline and CR escaped. */
const copyText = (value: string | null): string => {
  if (value === null) return '\\N';
  for (let i = 0; i < value.length; i += 1) {
    const c = value.charCodeAt(i);
    if (c === 92 || c === 9 || c === 10 || c === 13)
      return value
        .replace(/\\/g, '\\\\')
        .replace(/\t/g, '\\t')
        .replace(/\n/g, '\\n')
        .replace(/\r/g, '\\r');
  }
  return value;
};

/**
 * Upserts a batch by legacy_id (no legacy_id twice) on PostgreSQL: COPY into the session's
 * temporary staging table (emptied at each commit), then one INSERT ... SELECT ... ON CONFLICT.
 * `trx` must be a transaction (its connection carries the COPY).
 */
export const copyImportedAccounts = async (
  trx: Knex.Transaction,
  rows: ImportedAccountRow[],
): Promise<UpsertResult> => {
  if (!rows.length) return { inserted: 0, updated: 0 };
  const connection = (await trx.client.acquireConnection()) as {
    query: (q: unknown) => NodeJS.WritableStream;
  };
  // Once per session (a no-op after that; a rolled-back creation is simply redone).
  await trx.raw(
    `create temporary table if not exists account_import_rows (${ROW_COLUMNS}) on commit delete rows`,
  );
  let text = '';
  for (const r of rows) {
    text += `${r.id}\t${copyText(r.legacyId)}\t${copyText(r.name)}\t${r.birthdate}\t${copyText(r.email)}\t${copyText(r.phoneNumber)}\t${r.webauthnUserId}\t${copyText(r.subjectKey)}\n`;
  }
  await pipeline(
    Readable.from([Buffer.from(text)]),
    connection.query(copyFrom('COPY account_import_rows FROM STDIN')),
  );
  const result = await trx.raw(upsertFrom('account_import_rows r'));
  if (rows.some((r) => r.subjectKey)) await trx.raw(subjectKeysFrom('account_import_rows r'));
  return counted(result);
};

/** Whether the database takes COPY ... FROM STDIN (PostgreSQL does; the embedded PGlite does not). */
export const supportsCopyIn = async (db: Knex): Promise<boolean> => {
  const { rows } = await db.raw('select version() as version');
  return !/PGlite/i.test(String((rows as { version: string }[])[0]?.version));
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

export const findImportCheckpoint = async (
  db: Knex,
  id: string,
): Promise<ImportCheckpoint | undefined> => {
  const row = await db('account_imports').where({ id }).first();
  return row ? toCheckpoint(row) : undefined;
};

/** Starts (or restarts from the beginning) the checkpoint of an import file. */
export const startImportCheckpoint = async (
  db: Knex,
  c: Pick<ImportCheckpoint, 'id' | 'file' | 'columns'> & { actor: string },
): Promise<void> => {
  await db('account_imports')
    .insert({ id: c.id, file: c.file, columns: JSON.stringify(c.columns), actor: c.actor })
    .onConflict('id')
    .merge({
      file: c.file,
      columns: JSON.stringify(c.columns),
      actor: c.actor,
      byte_offset: 0,
      line: 1,
      imported: 0,
      rejected: 0,
      started_at: db.fn.now(),
      updated_at: db.fn.now(),
      finished_at: null,
    });
};

/**
 * Moves the checkpoint from `from` (the end of the previous batch) past the rows just written,
 * inside the same transaction as those rows. Waits for the previous batch's transaction (its row
 * lock); false when the checkpoint is not at `from` (that batch did not commit).
 */
export const advanceImportCheckpoint = async (
  trx: Knex,
  id: string,
  c: {
    from: number;
    byteOffset: number;
    line: number;
    imported: number;
    rejected: number;
    finished?: boolean;
  },
): Promise<boolean> =>
  (await trx('account_imports')
    .where({ id, byte_offset: c.from })
    .update({
      byte_offset: c.byteOffset,
      line: c.line,
      imported: c.imported,
      rejected: c.rejected,
      updated_at: trx.fn.now(),
      ...(c.finished && { finished_at: trx.fn.now() }),
    })) === 1;

/** An imported member's account id, by the portal's member id. */
export const findAccountIdByLegacyId = async (
  db: Knex,
  legacyId: string,
): Promise<string | undefined> =>
  (await db('accounts').where({ legacy_id: legacyId }).first('id'))?.id;
