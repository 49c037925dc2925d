// Bulk writes for synthetic data (`seed accounts`). On PostgreSQL: COPY ... FROM STDIN (text
// format) through pg-copy-streams. On the embedded PGlite (whose loopback server takes no COPY
// streams): one multi-row INSERT per batch, the rows passed as parallel arrays and expanded by
// unnest(), so a batch of thousands of rows costs one round trip and one statement.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Knex } from 'knex';
import { from as copyFrom } from 'pg-copy-streams';

export type SeedAccountRow = {
  id: string;
  name: string;
  birthdate: string;
  email: string;
  phoneNumber: string | null;
  webauthnUserId: string;
};
export type SeedCredentialRow = { id: string; accountId: string; publicKey: Buffer; name: string };
export type SeedConsentRow = {
  id: string;
  accountId: string;
  clientId: string;
  grantedClaims: string[];
  scopes: string[];
  purposes: Record<string, unknown>;
  expiresAt: Date;
};

// knex's binding types know no nullable arrays; pg sends an array parameter as a PostgreSQL array.
const column = <T, V>(rows: T[], pick: (row: T) => V) => rows.map(pick) as unknown as string[];

/** Inserts accounts (status active); existing ids are left alone, so a re-run is harmless. */
export const insertSeedAccounts = async (db: Knex, rows: SeedAccountRow[]): Promise<number> => {
  if (!rows.length) return 0;
  const result = await db.raw(
    `insert into accounts (id, name, birthdate, email, phone_number, webauthn_user_id)
     select * from unnest(?::uuid[], ?::text[], ?::date[], ?::text[], ?::text[], ?::text[])
     on conflict do nothing`,
    [
      column(rows, (r) => r.id),
      column(rows, (r) => r.name),
      column(rows, (r) => r.birthdate),
      column(rows, (r) => r.email),
      column(rows, (r) => r.phoneNumber),
      column(rows, (r) => r.webauthnUserId),
    ],
  );
  return result.rowCount ?? 0;
};

/** Inserts synced (multiDevice, counter 0) passkey credentials. */
export const insertSeedCredentials = async (
  db: Knex,
  rows: SeedCredentialRow[],
): Promise<number> => {
  if (!rows.length) return 0;
  const result = await db.raw(
    `insert into passkey_credentials (id, account_id, public_key, counter, transports, device_type, backed_up, name)
     select c.id, c.account_id, c.public_key, 0, '["internal"]'::jsonb, 'multiDevice', true, c.name
     from unnest(?::text[], ?::uuid[], ?::bytea[], ?::text[]) as c(id, account_id, public_key, name)
     on conflict do nothing`,
    [
      column(rows, (r) => r.id),
      column(rows, (r) => r.accountId),
      column(rows, (r) => r.publicKey),
      column(rows, (r) => r.name),
    ],
  );
  return result.rowCount ?? 0;
};

/** Inserts active consents (one per account and client; an existing active one is kept). */
export const insertSeedConsents = async (db: Knex, rows: SeedConsentRow[]): Promise<number> => {
  if (!rows.length) return 0;
  const result = await db.raw(
    `insert into consents (id, account_id, client_id, granted_claims, declined_claims, scopes, purposes, grant_ids, granted_at, updated_at, expires_at)
     select c.id, c.account_id, c.client_id, c.granted::jsonb, '[]'::jsonb, c.scopes::jsonb, c.purposes::jsonb, '[]'::jsonb, now(), now(), c.expires_at
     from unnest(?::uuid[], ?::uuid[], ?::text[], ?::text[], ?::text[], ?::text[], ?::timestamptz[]) as c(id, account_id, client_id, granted, scopes, purposes, expires_at)
     on conflict do nothing`,
    [
      column(rows, (r) => r.id),
      column(rows, (r) => r.accountId),
      column(rows, (r) => r.clientId),
      column(rows, (r) => JSON.stringify(r.grantedClaims)),
      column(rows, (r) => JSON.stringify(r.scopes)),
      column(rows, (r) => JSON.stringify(r.purposes)),
      column(rows, (r) => r.expiresAt),
    ],
  );
  return result.rowCount ?? 0;
};

/** Whether a client exists and is live (consents reference it). */
export const seedClientExists = async (db: Knex, clientId: string): Promise<boolean> =>
  Boolean(
    await db('clients').where({ client_id: clientId }).whereNull('deleted_at').first('client_id'),
  );

/** The client's allowances, as the consent snapshot records them. */
export const seedClientAllowances = async (
  db: Knex,
  clientId: string,
): Promise<
  {
    claim: string;
    purpose_ko: string;
    purpose_en: string;
    required: boolean;
    retention_days: number;
  }[]
> => db('client_claim_allowances').where({ client_id: clientId }).orderBy('claim');

/** A value in COPY's text format: NULL as \\N, backslash, tab, newline and CR escaped; bytea as \\x hex. */
export const copyText = (value: string | number | boolean | Buffer | Date | null): string => {
  if (value === null) return '\\N';
  if (Buffer.isBuffer(value)) return `\\\\x${value.toString('hex')}`;
  if (value instanceof Date) return value.toISOString();
  const text = String(value);
  return /[\\\t\n\r]/.test(text)
    ? text.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r')
    : text;
};

/** COPY `rows` (already COPY text lines, newline-terminated) into `table (columns)` on one pooled connection. */
export const copyLines = async (
  db: Knex,
  table: string,
  columns: string[],
  lines: string[],
): Promise<void> => {
  if (!lines.length) return;
  const connection = await db.client.acquireConnection();
  try {
    const sql = `COPY ${table} (${columns.join(', ')}) FROM STDIN`;
    await pipeline(
      Readable.from([lines.join('')]),
      (connection as { query: (q: unknown) => NodeJS.WritableStream }).query(copyFrom(sql)),
    );
  } finally {
    await db.client.releaseConnection(connection);
  }
};
