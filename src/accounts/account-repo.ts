import type { Knex } from 'knex';
import { prepared } from '../store/index.ts';

export type Account = {
  id: string;
  name: string;
  birthdate: string | null;
  email: string | null;
  phoneNumber: string | null;
  gender?: string | null;
  address?: Record<string, string> | null;
  status: 'active' | 'disabled';
  webauthnUserId: string;
  createdAt: Date;
};

type Row = {
  id: string;
  name: string;
  birthdate: string | Date | null;
  email: string | null;
  phone_number: string | null;
  gender?: string | null;
  address?: Record<string, string> | null;
  status: Account['status'];
  webauthn_user_id: string;
  created_at: Date;
};

const isoDate = (value: string | Date | null) =>
  value === null
    ? null
    : typeof value === 'string'
      ? value.slice(0, 10)
      : value.toISOString().slice(0, 10);

const toAccount = (row: Row): Account => ({
  id: row.id,
  name: row.name,
  birthdate: isoDate(row.birthdate),
  email: row.email,
  phoneNumber: row.phone_number,
  gender: row.gender ?? null,
  address: row.address ?? null,
  status: row.status,
  webauthnUserId: row.webauthn_user_id,
  createdAt: new Date(row.created_at),
});

export const insertAccount = async (
  db: Knex,
  account: Omit<Account, 'createdAt'>,
): Promise<void> => {
  await db('accounts').insert({
    id: account.id,
    name: account.name,
    birthdate: account.birthdate,
    email: account.email,
    phone_number: account.phoneNumber,
    status: account.status,
    webauthn_user_id: account.webauthnUserId,
  });
};

export const findAccountById = async (db: Knex, id: string): Promise<Account | undefined> => {
  // Non-UUID input is simply "not found", never a database error.
  if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
  // A prepared statement: the token paths read it (when not kept) on every request.
  const [row] = await prepared<Row>(db, 'account_find', 'SELECT * FROM accounts WHERE id = $1', [
    id,
  ]);
  return row ? toAccount(row) : undefined;
};

/** Accounts a citizen may identify as by email or phone number (for non-discoverable passkeys). */
export const findAccountsByIdentifier = async (
  db: Knex,
  identifier: string,
): Promise<Account[]> => {
  const value = identifier.trim();
  const rows = value.includes('@')
    ? await db<Row>('accounts').whereRaw('lower(email) = lower(?)', [value]).limit(10)
    : await db<Row>('accounts')
        .where({ phone_number: value.replace(/[\s-]/g, '') })
        .limit(10);
  return rows.map(toAccount);
};

/** Display names of accounts by id, for administrators' pages (ids not found are left out). */
export const findAccountNames = async (
  db: Knex,
  ids: readonly string[],
): Promise<Map<string, string>> => {
  const valid = [...new Set(ids)].filter((id) => /^[0-9a-f-]{36}$/i.test(id)).slice(0, 500);
  if (!valid.length) return new Map();
  const rows = await db<Row>('accounts').whereIn('id', valid).select('id', 'name');
  return new Map(rows.map((r) => [r.id, r.name]));
};

/**
 * Accounts an administrator looks for: by email (exact, any case) when the text holds an `@`,
 * else by name (exact or starting with the text). At most `limit`, by name in code point order
 * (`collate "C"`), then id. Both are index walks however many accounts there are: the email
 * match uses the lower(email) index, the name match the (name collate "C", id) index, whose
 * order the query follows so that the LIMIT ends the walk. (An index under the database's own
 * collation serves the order but not the prefix; one with text_pattern_ops, the prefix but not
 * the order, and a short prefix such as 김 matches a fifth of all citizens.)
 */
export const searchAccounts = async (db: Knex, text: string, limit = 20): Promise<Account[]> => {
  const value = text.trim();
  if (!value) return [];
  const query = db<Row>('accounts').orderByRaw('name collate "C", id').limit(limit);
  if (value.includes('@')) query.whereRaw('lower(email) = lower(?)', [value]);
  else query.where('name', 'like', `${value.replace(/[\\%_]/g, '\\$&')}%`);
  return (await query).map(toAccount);
};
