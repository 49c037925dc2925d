import type { Knex } from 'knex';
import { prepared } from '../store/index.ts';

export type Purpose = { ko: string; en: string; required: boolean; retentionDays: number };

export type ConsentRecord = {
  id: string;
  accountId: string;
  clientId: string;
  grantedClaims: string[];
  declinedClaims: string[];
  scopes: string[];
  purposes: Record<string, Purpose>;
  grantIds: string[];
  grantedAt: Date;
  updatedAt: Date;
  expiresAt: Date;
  withdrawnAt: Date | null;
};

const toRecord = (r: Record<string, any>): ConsentRecord => ({
  id: r.id,
  accountId: r.account_id,
  clientId: r.client_id,
  grantedClaims: r.granted_claims,
  declinedClaims: r.declined_claims,
  scopes: r.scopes,
  purposes: r.purposes,
  grantIds: r.grant_ids,
  grantedAt: new Date(r.granted_at),
  updatedAt: new Date(r.updated_at),
  expiresAt: new Date(r.expires_at),
  withdrawnAt: r.withdrawn_at ? new Date(r.withdrawn_at) : null,
});

/** The active (not withdrawn) consent of a citizen for a client, expired or not. */
export const findActiveConsent = async (
  db: Knex,
  accountId: string,
  clientId: string,
): Promise<ConsentRecord | undefined> => {
  // A prepared statement: read on every authorization (src/store/prepared.ts).
  const [row] = await prepared(
    db,
    'consent_active',
    'SELECT * FROM consents WHERE account_id = $1 AND client_id = $2 AND withdrawn_at IS NULL LIMIT 1',
    [accountId, clientId],
  );
  return row ? toRecord(row) : undefined;
};

/**
 * What deciding an authorization needs of a consent, as JSON that can travel with a sign-in
 * (the engine's interaction result): read in the statement that reads the passkey credential,
 * so the authorization that follows does not read the consent again (issue 16).
 */
export type ConsentSnapshot = {
  id: string;
  accountId: string;
  clientId: string;
  grantedClaims: string[];
  declinedClaims: string[];
  /** ISO time. */
  expiresAt: string;
  /** How many grant ids the consent holds (the prune of ended ones is due past a bound). */
  grantCount: number;
};

/**
 * A scalar subquery for another table's statement: the snapshot (json) of the active consent of
 * the account `accountSql` (an SQL expression) for the client `clientParam` (a placeholder), or
 * NULL.
 */
export const activeConsentSnapshotSql = (accountSql: string, clientParam: string): string =>
  `(SELECT json_build_object('id', k.id, 'accountId', k.account_id, 'clientId', k.client_id,
      'grantedClaims', k.granted_claims, 'declinedClaims', k.declined_claims,
      'expiresAt', k.expires_at, 'grantCount', jsonb_array_length(k.grant_ids))
    FROM consents k WHERE k.account_id = ${accountSql} AND k.client_id = ${clientParam}
      AND k.withdrawn_at IS NULL LIMIT 1)`;

/** The snapshot from activeConsentSnapshotSql's json (a string or parsed, by driver). */
export const toConsentSnapshot = (value: unknown): ConsentSnapshot | undefined => {
  if (!value) return undefined;
  const v = (typeof value === 'string' ? JSON.parse(value) : value) as ConsentSnapshot;
  return { ...v, expiresAt: new Date(v.expiresAt).toISOString() };
};

export const findConsentById = async (db: Knex, id: string): Promise<ConsentRecord | undefined> => {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
  const row = await db('consents').where({ id }).first();
  return row ? toRecord(row) : undefined;
};

export const listActiveConsents = async (db: Knex, accountId: string): Promise<ConsentRecord[]> =>
  (
    await db('consents')
      .where({ account_id: accountId })
      .whereNull('withdrawn_at')
      .orderBy('granted_at')
  ).map(toRecord);

export const insertConsent = async (
  db: Knex,
  c: Omit<ConsentRecord, 'withdrawnAt'>,
): Promise<void> => {
  await db('consents').insert({
    id: c.id,
    account_id: c.accountId,
    client_id: c.clientId,
    granted_claims: JSON.stringify(c.grantedClaims),
    declined_claims: JSON.stringify(c.declinedClaims),
    scopes: JSON.stringify(c.scopes),
    purposes: JSON.stringify(c.purposes),
    grant_ids: JSON.stringify(c.grantIds),
    granted_at: c.grantedAt,
    updated_at: c.updatedAt,
    expires_at: c.expiresAt,
  });
};

export const updateConsent = async (db: Knex, c: ConsentRecord): Promise<void> => {
  await db('consents')
    .where({ id: c.id })
    .update({
      granted_claims: JSON.stringify(c.grantedClaims),
      declined_claims: JSON.stringify(c.declinedClaims),
      scopes: JSON.stringify(c.scopes),
      purposes: JSON.stringify(c.purposes),
      grant_ids: JSON.stringify(c.grantIds),
      updated_at: c.updatedAt,
      expires_at: c.expiresAt,
    });
};

/** Drops these grant ids (atomic: ids appended meanwhile stay). */
export const removeGrantIds = async (db: Knex, id: string, grantIds: string[]): Promise<void> => {
  if (grantIds.length)
    await db.raw('update consents set grant_ids = grant_ids - ?::text[] where id = ?', [
      grantIds,
      id,
    ]);
};

/** A citizen's consents (any state), newest first: their audit events are about them. */
export const listConsentIds = async (
  db: Knex,
  accountId: string,
  limit: number,
): Promise<string[]> =>
  (
    await db('consents')
      .where({ account_id: accountId })
      .orderBy('granted_at', 'desc')
      .limit(limit)
      .select('id')
  ).map((r: { id: string }) => r.id);

/** Open consents past their expiry, oldest first, locked for this transaction (others skip them). */
export const lockExpiredConsents = async (
  trx: Knex.Transaction,
  now: Date,
  limit: number,
): Promise<ConsentRecord[]> =>
  (
    await trx('consents')
      .whereNull('withdrawn_at')
      .where('expires_at', '<=', now)
      .orderBy('expires_at')
      .limit(limit)
      .forUpdate()
      .skipLocked()
  ).map(toRecord);

/** Marks withdrawn; false when it already was. */
export const markWithdrawn = async (db: Knex, id: string, at: Date): Promise<boolean> =>
  (await db('consents')
    .where({ id })
    .whereNull('withdrawn_at')
    .update({ withdrawn_at: at, updated_at: at })) === 1;

/**
 * Marks the citizen's consent withdrawn, returning it as marked; undefined when it is not theirs,
 * unknown, or already ended. One statement, no read first: its grant ids are those of the row it
 * marks, so a grant a sign-in recorded (src/sessions/session-repo.ts) just before is among them,
 * and a sign-in recording one just after finds the consent withdrawn.
 */
export const withdrawConsent = async (
  db: Knex,
  id: string,
  accountId: string,
  at: Date,
): Promise<ConsentRecord | undefined> => {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
  const [row] = await db('consents')
    .where({ id, account_id: accountId })
    .whereNull('withdrawn_at')
    .update({ withdrawn_at: at, updated_at: at })
    .returning('*');
  return row ? toRecord(row) : undefined;
};

export const listSignIns = async (
  db: Knex,
  accountId: string,
): Promise<{ clientId: string; firstAt: Date; lastAt: Date; count: number }[]> =>
  (await db('client_sign_ins').where({ account_id: accountId }).orderBy('last_at', 'desc')).map(
    (r) => ({
      clientId: r.client_id,
      firstAt: new Date(r.first_at),
      lastAt: new Date(r.last_at),
      count: r.count,
    }),
  );
