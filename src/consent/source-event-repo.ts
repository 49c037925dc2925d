// distributed_claim_tokens and source_event_deliveries (see the migration): the distributed-claim
// tokens One-ID handed out, and the durable queue of events telling their sources to refuse them.
import type { Knex } from 'knex';
import { queueTable } from '../store/index.ts';

export type RevocationReason =
  'consent_withdrawn' | 'consent_expired' | 'sessions_ended' | 'account_disabled';

export type IssuedToken = {
  jti: string;
  accountId: string;
  clientId: string;
  sourceEndpoint: string;
  eventsUri: string;
  expiresAt: Date;
};

export type SourceEvent = {
  id: string;
  eventsUri: string;
  audience: string;
  tokenJti: string;
  accountId: string;
  clientId: string;
  reason: RevocationReason;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  createdAt: Date;
  lastError: string | null;
};

const TOKENS = 'distributed_claim_tokens';
const EVENTS = 'source_event_deliveries';

const toEvent = (r: Record<string, any>): SourceEvent => ({
  id: r.id,
  eventsUri: r.events_uri,
  audience: r.audience,
  tokenJti: r.token_jti,
  accountId: r.account_id,
  clientId: r.client_id,
  reason: r.reason,
  status: r.status,
  attempts: r.attempts,
  createdAt: new Date(r.created_at),
  lastError: r.last_error,
});

export const insertIssuedToken = async (db: Knex, t: IssuedToken): Promise<void> => {
  await db(TOKENS).insert({
    jti: t.jti,
    account_id: t.accountId,
    client_id: t.clientId,
    source_endpoint: t.sourceEndpoint,
    events_uri: t.eventsUri,
    expires_at: t.expiresAt,
  });
};

/**
 * Queues one event per token of the account (of `clientId` only, when given) expiring after
 * `expiringAfter`; a token already named by an event is skipped. Returns the number queued.
 */
export const queueRevocations = async (
  db: Knex,
  issuer: string,
  where: { accountId: string; clientId?: string | undefined; expiringAfter: Date },
  reason: RevocationReason,
  now: Date,
  newId: () => string,
): Promise<number> => {
  const query = db(TOKENS)
    .where({ account_id: where.accountId })
    .where('expires_at', '>', where.expiringAfter);
  if (where.clientId) query.where({ client_id: where.clientId });
  const tokens = await query;
  if (!tokens.length) return 0;
  const inserted = await db(EVENTS)
    .insert(
      tokens.map((t) => ({
        id: newId(),
        issuer,
        events_uri: t.events_uri,
        audience: t.source_endpoint,
        token_jti: t.jti,
        account_id: t.account_id,
        client_id: t.client_id,
        reason,
        status: 'pending',
        attempts: 0,
        next_attempt_at: now,
        created_at: now,
        updated_at: now,
      })),
    )
    .onConflict('token_jti')
    .ignore()
    .returning('id');
  return inserted.length;
};

/** The queue operations on the events table (src/store/queue-table.ts). */
export const sourceEventRows = queueTable(EVENTS, toEvent);

export const findEvents = async (
  db: Knex,
  where: { accountId: string; clientId?: string },
): Promise<SourceEvent[]> => {
  const query = db(EVENTS).where({ account_id: where.accountId }).orderBy('created_at');
  if (where.clientId) query.where({ client_id: where.clientId });
  return (await query).map(toEvent);
};

/** Forgets expired tokens, and finished events last touched before `before`. */
export const forgetOldSourceEvents = async (db: Knex, now: Date, before: Date): Promise<void> => {
  await db(TOKENS).where('expires_at', '<', now).delete();
  await sourceEventRows.forgetFinished(db, before);
};
