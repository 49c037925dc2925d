// citizen_sessions: the durable mirror of the engine's sessions (see the migration). Every query
// is scoped to one issuer, so two deployments sharing a database never act on each other's rows.
import type { Knex } from 'knex';
import { prepared } from '../store/index.ts';

/** One agency system used in a session: the `sid` it was given, first and last use (ISO time). */
export type SessionClient = { sid: string; firstAt: string; lastAt: string };

export type EndReason = 'logout' | 'remote' | 'admin' | 'expired' | 'restart';

export type SessionRecord = {
  uid: string;
  issuer: string;
  accountId: string;
  userAgent: string | null;
  network: string | null;
  createdAt: Date;
  lastSeenAt: Date;
  expiresAt: Date;
  endedAt: Date | null;
  endedReason: EndReason | null;
  purgedAt: Date | null;
  clients: Record<string, SessionClient>;
};

const date = (v: unknown) => (v ? new Date(v as string) : null);
const toRecord = (r: Record<string, any>): SessionRecord => ({
  uid: r.uid,
  issuer: r.issuer,
  accountId: r.account_id,
  userAgent: r.user_agent,
  network: r.network,
  createdAt: new Date(r.created_at),
  lastSeenAt: new Date(r.last_seen_at),
  expiresAt: new Date(r.expires_at),
  endedAt: date(r.ended_at),
  endedReason: r.ended_reason,
  purgedAt: date(r.purged_at),
  clients: r.clients ?? {},
});

const TABLE = 'citizen_sessions';

export const findSession = async (
  db: Knex,
  issuer: string,
  uid: string,
): Promise<SessionRecord | undefined> => {
  const row = await db(TABLE).where({ issuer, uid }).first();
  return row ? toRecord(row) : undefined;
};

/**
 * One statement for the writes of a session's save (issue 16: a request's writes in one round
 * trip), each part a no-op when its parameters are NULL:
 * - "connected systems" (client_sign_ins, read by My One-ID): the client the request signed in
 *   to ($10), first and last use and count; written whether or not the session row is;
 * - the grant the request made under a consent ($11, $12), recorded on it so that withdrawal
 *   revokes it, only while the consent is active (not withdrawn: `granted` says whether it was);
 * - the session record (`saved` says whether it was written): inserted, or updated while open.
 *   `clients` are the session's clients as new entries (first and last use now): for a client the
 *   row already holds with the same sid, the row's entry is kept, its last use moved to now only
 *   for `usedClientId` ($9, the client this request signed in to). Clients no longer in the
 *   session are dropped. Nothing is read first.
 * A consent being withdrawn holds its row until it commits: `granted` then waits and sees it
 * withdrawn; a withdrawal after this commits reads the grant id as it marks the consent.
 */
const SAVE_SESSION = `WITH signed_in AS (
    INSERT INTO client_sign_ins (account_id, client_id, first_at, last_at, count)
    SELECT $3, c.client_id, $6, $6, 1 FROM clients c WHERE c.client_id = $10::text
    ON CONFLICT (account_id, client_id)
    DO UPDATE SET last_at = excluded.last_at, count = client_sign_ins.count + 1
  ), granted AS (
    UPDATE consents SET grant_ids = CASE WHEN grant_ids @> to_jsonb($12::text) THEN grant_ids
      ELSE grant_ids || to_jsonb($12::text) END
    WHERE id = $11::uuid AND account_id = $3 AND withdrawn_at IS NULL
    RETURNING id
  ), saved AS (
    INSERT INTO citizen_sessions
      (uid, issuer, account_id, user_agent, network, created_at, last_seen_at, expires_at, clients)
    VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8::jsonb)
    ON CONFLICT (uid) DO UPDATE SET
      last_seen_at = excluded.last_seen_at,
      expires_at = excluded.expires_at,
      clients = (
        SELECT COALESCE(jsonb_object_agg(e.key,
          CASE
            WHEN citizen_sessions.clients -> e.key ->> 'sid' IS DISTINCT FROM e.value ->> 'sid'
              THEN e.value
            WHEN e.key = $9::text
              THEN (citizen_sessions.clients -> e.key)
                || jsonb_build_object('lastAt', e.value -> 'lastAt')
            ELSE citizen_sessions.clients -> e.key
          END), '{}'::jsonb)
        FROM jsonb_each(excluded.clients) AS e),
      user_agent = COALESCE(citizen_sessions.user_agent, excluded.user_agent),
      network = COALESCE(citizen_sessions.network, excluded.network)
    WHERE citizen_sessions.ended_at IS NULL AND citizen_sessions.issuer = excluded.issuer
    RETURNING uid
  )
  SELECT (SELECT count(*) FROM saved)::int AS saved, (SELECT count(*) FROM granted)::int AS granted`;

/**
 * Saves a session's record with the sign-in's other writes (SAVE_SESSION). `saved` false: the
 * session was ended meanwhile (or is another issuer's), nothing of it was written, and the caller
 * must not store it again (no resurrection). `granted` false when a grant was given: its consent
 * is no longer active, the grant was not recorded, and the caller must revoke it.
 */
export const saveSession = async (
  db: Knex,
  s: {
    uid: string;
    issuer: string;
    accountId: string;
    userAgent: string | null;
    network: string | null;
    now: Date;
    expiresAt: Date;
    clients: Record<string, SessionClient>;
    usedClientId?: string | undefined;
    /** The agency system signed in to ("connected systems"); not One-ID's own pages. */
    signedInTo?: string | undefined;
    grant?: { consentId: string; grantId: string } | undefined;
  },
): Promise<{ saved: boolean; granted: boolean }> => {
  // A prepared statement: run on every save of a signed-in session (src/store/prepared.ts).
  const [row] = await prepared<{ saved: number; granted: number }>(
    db,
    'session_save',
    SAVE_SESSION,
    [
      s.uid,
      s.issuer,
      s.accountId,
      s.userAgent,
      s.network,
      s.now,
      s.expiresAt,
      JSON.stringify(s.clients),
      s.usedClientId ?? null,
      s.signedInTo ?? null,
      s.grant?.consentId ?? null,
      s.grant?.grantId ?? null,
    ],
  );
  return { saved: row!.saved === 1, granted: row!.granted === 1 };
};

/** Sessions neither ended nor past their expiry, most recently used first. */
export const listLiveSessions = async (
  db: Knex,
  issuer: string,
  accountId: string,
  now: Date,
): Promise<SessionRecord[]> =>
  (
    await db(TABLE)
      .where({ issuer, account_id: accountId })
      .whereNull('ended_at')
      .where('expires_at', '>', now)
      .orderBy('last_seen_at', 'desc')
  ).map(toRecord);

/** Open sessions of this issuer, a page at a time by uid. */
export const listOpenSessions = async (
  db: Knex,
  issuer: string,
  after: string,
  limit: number,
): Promise<SessionRecord[]> =>
  (
    await db(TABLE)
      .where({ issuer })
      .whereNull('ended_at')
      .where('uid', '>', after)
      .orderBy('uid')
      .limit(limit)
  ).map(toRecord);

/** Locks the account's open sessions (or one of them) for ending. */
export const lockOpenSessions = async (
  trx: Knex.Transaction,
  issuer: string,
  accountId: string,
  uid?: string,
): Promise<SessionRecord[]> => {
  const query = trx(TABLE)
    .where({ issuer, account_id: accountId })
    .whereNull('ended_at')
    .forUpdate();
  if (uid) query.where({ uid });
  return (await query).map(toRecord);
};

/** Open sessions that used a client (optionally of one account), a page at a time by uid. */
export const listOpenSessionsWithClient = async (
  db: Knex,
  issuer: string,
  clientId: string,
  options: { accountId?: string; after?: string; limit: number },
): Promise<SessionRecord[]> => {
  const query = db(TABLE)
    .where({ issuer })
    .whereNull('ended_at')
    .whereRaw('clients \\? ?', [clientId])
    .orderBy('uid')
    .limit(options.limit);
  if (options.accountId) query.where({ account_id: options.accountId });
  if (options.after) query.where('uid', '>', options.after);
  return (await query).map(toRecord);
};

export const markEnded = async (
  db: Knex,
  issuer: string,
  uid: string,
  reason: EndReason,
  at: Date,
  purged: boolean,
): Promise<SessionRecord | undefined> => {
  const [row] = await db(TABLE)
    .where({ issuer, uid })
    .whereNull('ended_at')
    .update({ ended_at: at, ended_reason: reason, purged_at: purged ? at : null })
    .returning('*');
  return row ? toRecord(row) : undefined;
};

/** Claims open sessions whose recorded expiry has passed (other instances skip them). */
export const claimExpired = async (
  trx: Knex.Transaction,
  issuer: string,
  now: Date,
  limit: number,
): Promise<SessionRecord[]> =>
  (
    await trx(TABLE)
      .where({ issuer })
      .whereNull('ended_at')
      .where('expires_at', '<=', now)
      .orderBy('expires_at')
      .limit(limit)
      .forUpdate()
      .skipLocked()
  ).map(toRecord);

export const setExpiry = async (
  db: Knex,
  issuer: string,
  uid: string,
  expiresAt: Date,
): Promise<void> => {
  await db(TABLE).where({ issuer, uid }).update({ expires_at: expiresAt });
};

/** Claims ended sessions whose engine copy may still exist (ended by a process without the engine). */
export const claimUnpurged = async (
  trx: Knex.Transaction,
  issuer: string,
  limit: number,
): Promise<SessionRecord[]> =>
  (
    await trx(TABLE)
      .where({ issuer })
      .whereNotNull('ended_at')
      .whereNull('purged_at')
      .orderBy('ended_at')
      .limit(limit)
      .forUpdate()
      .skipLocked()
  ).map(toRecord);

export const markPurged = async (
  db: Knex,
  issuer: string,
  uids: string[],
  at: Date,
): Promise<void> => {
  if (uids.length) await db(TABLE).where({ issuer }).whereIn('uid', uids).update({ purged_at: at });
};

/** Deletes sessions that ended before `before` (their device and network go with them). */
export const deleteEndedBefore = async (db: Knex, before: Date): Promise<number> =>
  db(TABLE)
    .whereNotNull('ended_at')
    .where('ended_at', '<', before)
    .whereNotNull('purged_at')
    .delete();
