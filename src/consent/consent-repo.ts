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

/** Appends an engine grant id to the consent (so withdrawal can revoke every grant). */
/** Appends a grant id; returns the ids now recorded (undefined when the consent is gone). */
export const addGrantId = async (
  db: Knex,
  id: string,
  grantId: string,
): Promise<string[] | undefined> => {
  const [row] = await prepared<{ grant_ids: string[] }>(
    db,
    'consent_grant_add',
    `UPDATE consents SET grant_ids = CASE WHEN grant_ids @> to_jsonb($1::text) THEN grant_ids
       ELSE grant_ids || to_jsonb($1::text) END WHERE id = $2 RETURNING grant_ids`,
    [grantId, id],
  );
  return row?.grant_ids;
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

export const recordSignIn = async (
  db: Knex,
  accountId: string,
  clientId: string,
  at: Date,
): Promise<void> => {
  await prepared(
    db,
    'client_sign_in',
    `INSERT INTO client_sign_ins (account_id, client_id, first_at, last_at, count)
     VALUES ($1, $2, $3, $3, 1) ON CONFLICT (account_id, client_id)
     DO UPDATE SET last_at = excluded.last_at, count = client_sign_ins.count + 1`,
    [accountId, clientId, at],
  );
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
