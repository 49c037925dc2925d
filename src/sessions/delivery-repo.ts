// backchannel_deliveries: the durable back-channel logout queue (see the migration).
import type { Knex } from 'knex';
import { queueTable } from '../store/index.ts';

export type LogoutReason =
  | 'logout'
  | 'remote'
  | 'admin'
  | 'expired'
  | 'restart'
  | 'consent_withdrawn'
  | 'consent_expired'
  | 'client_disabled';
export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export type Delivery = {
  id: string;
  issuer: string;
  clientId: string;
  accountId: string;
  sid: string;
  sessionUid: string | null;
  reason: LogoutReason;
  status: DeliveryStatus;
  /** Attempts started, the current one included once claimed. */
  attempts: number;
  nextAttemptAt: Date;
  lastError: string | null;
  createdAt: Date;
  deliveredAt: Date | null;
};

export type NewDelivery = {
  id: string;
  issuer: string;
  clientId: string;
  accountId: string;
  sid: string;
  sessionUid: string | null;
  reason: LogoutReason;
};

const TABLE = 'backchannel_deliveries';

const toDelivery = (r: Record<string, any>): Delivery => ({
  id: r.id,
  issuer: r.issuer,
  clientId: r.client_id,
  accountId: r.account_id,
  sid: r.sid,
  sessionUid: r.session_uid,
  reason: r.reason,
  status: r.status,
  attempts: r.attempts,
  nextAttemptAt: new Date(r.next_attempt_at),
  lastError: r.last_error,
  createdAt: new Date(r.created_at),
  deliveredAt: r.delivered_at ? new Date(r.delivered_at) : null,
});

/** Queues deliveries due now; one already pending for the same client and sid is kept instead. */
export const insertDeliveries = async (
  db: Knex,
  rows: NewDelivery[],
  now: Date,
): Promise<number> => {
  if (!rows.length) return 0;
  const inserted = await db(TABLE)
    .insert(
      rows.map((r) => ({
        id: r.id,
        issuer: r.issuer,
        client_id: r.clientId,
        account_id: r.accountId,
        sid: r.sid,
        session_uid: r.sessionUid,
        reason: r.reason,
        status: 'pending',
        attempts: 0,
        next_attempt_at: now,
        created_at: now,
        updated_at: now,
      })),
    )
    .onConflict(db.raw("(client_id, sid) WHERE status = 'pending'"))
    .ignore()
    .returning('id');
  return inserted.length;
};

/** The queue operations on this table (src/store/queue-table.ts). */
export const deliveryQueue = queueTable(TABLE, toDelivery);
export const { claimDue, markDelivered, markFailed, reschedule } = deliveryQueue;

export const findDeliveries = async (
  db: Knex,
  where: { issuer: string; clientId?: string; sid?: string },
): Promise<Delivery[]> => {
  const query = db(TABLE).where({ issuer: where.issuer }).orderBy('created_at');
  if (where.clientId) query.where({ client_id: where.clientId });
  if (where.sid) query.where({ sid: where.sid });
  return (await query).map(toDelivery);
};

/**
 * Of these clients, those that registered a back-channel logout URI (whatever their status).
 * Reads one field of src/clients' table in the caller's transaction, so a transaction never
 * waits on a second connection.
 */
export const withBackchannel = async (db: Knex, clientIds: string[]): Promise<Set<string>> => {
  if (!clientIds.length) return new Set();
  const rows = await db('clients')
    .whereIn('client_id', clientIds)
    .whereNull('deleted_at')
    .whereRaw("metadata->>'backchannel_logout_uri' IS NOT NULL")
    .select('client_id');
  return new Set(rows.map((r) => r.client_id as string));
};

/** Forgets finished deliveries last touched before `before`. */
export const deleteFinishedBefore = deliveryQueue.forgetFinished;
