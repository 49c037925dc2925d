// Dynamic client registration tokens (RFC 7591 initial access tokens, RFC 7592 registration
// access tokens), kept in the database as SHA-256 hashes: they outlive restarts of the
// embedded store, the CLI can issue them, and a leaked table holds no usable token.
import type { Knex } from 'knex';

export type DcrTokenKind = 'initial' | 'registration';
export type DcrTokenRecord = {
  id: string;
  kind: DcrTokenKind;
  agency: string;
  clientId: string | null;
  payload: Record<string, unknown>;
  createdBy: string;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
};

const toRecord = (row: Record<string, any>): DcrTokenRecord => ({
  id: String(row.id),
  kind: row.kind,
  agency: row.agency,
  clientId: row.client_id,
  payload: row.payload,
  createdBy: row.created_by,
  createdAt: new Date(row.created_at),
  expiresAt: row.expires_at ? new Date(row.expires_at) : null,
  revokedAt: row.revoked_at ? new Date(row.revoked_at) : null,
});

export const insertDcrToken = async (
  db: Knex,
  t: {
    kind: DcrTokenKind;
    tokenHash: string;
    agency: string;
    clientId?: string | null;
    payload?: Record<string, unknown>;
    createdBy: string;
    expiresAt: Date | null;
  },
): Promise<DcrTokenRecord> => {
  const [row] = await db('dcr_tokens')
    .insert({
      kind: t.kind,
      token_hash: t.tokenHash,
      agency: t.agency,
      client_id: t.clientId ?? null,
      payload: JSON.stringify(t.payload ?? {}),
      created_by: t.createdBy,
      expires_at: t.expiresAt,
    })
    .onConflict('token_hash')
    .merge(['payload', 'expires_at'])
    .returning('*');
  return toRecord(row);
};

/** A usable token: not revoked, not expired. */
export const findDcrToken = async (
  db: Knex,
  kind: DcrTokenKind,
  tokenHash: string,
  now: Date,
): Promise<DcrTokenRecord | undefined> => {
  const row = await db('dcr_tokens')
    .where({ kind, token_hash: tokenHash })
    .whereNull('revoked_at')
    .where((q) => q.whereNull('expires_at').orWhere('expires_at', '>', now))
    .first();
  return row ? toRecord(row) : undefined;
};

export const findDcrTokenById = async (
  db: Knex,
  id: string,
): Promise<DcrTokenRecord | undefined> => {
  const row = await db('dcr_tokens').where({ id }).first();
  return row ? toRecord(row) : undefined;
};

/** Deletes a token; true only for the one call that deleted it (a single statement: race-safe). */
export const deleteDcrToken = async (
  db: Knex,
  kind: DcrTokenKind,
  tokenHash: string,
): Promise<boolean> =>
  (await db('dcr_tokens').where({ kind, token_hash: tokenHash }).delete()) === 1;

export const revokeDcrToken = async (db: Knex, id: string, now: Date): Promise<void> => {
  await db('dcr_tokens').where({ id }).whereNull('revoked_at').update({ revoked_at: now });
};

export const listDcrTokens = async (
  db: Knex,
  o: { kind: DcrTokenKind; after?: string | undefined; limit: number; agency?: string | undefined },
): Promise<DcrTokenRecord[]> => {
  const query = db('dcr_tokens').where({ kind: o.kind }).orderBy('id').limit(o.limit);
  if (o.after) query.where('id', '>', o.after);
  if (o.agency) query.where({ agency: o.agency });
  return (await query).map(toRecord);
};
