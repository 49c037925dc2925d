// A durable delivery queue kept in one table (back-channel logout tokens, source events): rows
// are claimed with a lease, then marked delivered, failed or rescheduled. Each queue's table has
// the columns id, issuer, status ('pending' | 'delivered' | 'failed'), attempts,
// next_attempt_at, last_error, created_at, updated_at and delivered_at (see its migration).
import type { Knex } from 'knex';

export type QueueTable<R> = {
  /**
   * Claims up to `limit` due rows: counts the attempt and pushes `next_attempt_at` out by
   * `leaseMs`, so a worker that dies mid-delivery leaves the row to be retried by anyone after
   * the lease. FOR UPDATE SKIP LOCKED lets instances claim concurrently without waiting on, or
   * taking, each other's rows. The transaction is short: the delivery itself runs after commit.
   */
  claimDue: (db: Knex, issuer: string, now: Date, limit: number, leaseMs: number) => Promise<R[]>;
  markDelivered: (db: Knex | Knex.Transaction, id: string, at: Date) => Promise<void>;
  markFailed: (db: Knex | Knex.Transaction, id: string, at: Date, error: string) => Promise<void>;
  reschedule: (db: Knex, id: string, at: Date, nextAttemptAt: Date, error: string) => Promise<void>;
  /** Forgets finished rows last touched before `before`; returns how many. */
  forgetFinished: (db: Knex, before: Date) => Promise<number>;
};

/** The queue operations on `table`, whose rows the caller maps with `toRow`. */
export const queueTable = <R>(
  table: string,
  toRow: (row: Record<string, unknown>) => R,
): QueueTable<R> => ({
  claimDue: (db, issuer, now, limit, leaseMs) =>
    db.transaction(async (trx) => {
      const rows = await trx(table)
        .where({ issuer, status: 'pending' })
        .where('next_attempt_at', '<=', now)
        .orderBy('next_attempt_at')
        .limit(limit)
        .forUpdate()
        .skipLocked();
      if (!rows.length) return [];
      await trx(table)
        .whereIn(
          'id',
          rows.map((r) => r.id as string),
        )
        .update({
          attempts: trx.raw('attempts + 1'),
          next_attempt_at: new Date(now.getTime() + leaseMs),
          updated_at: now,
        });
      return rows.map((r) => toRow({ ...r, attempts: r.attempts + 1 }));
    }),

  markDelivered: async (db, id, at) => {
    await db(table)
      .where({ id })
      .update({ status: 'delivered', delivered_at: at, updated_at: at, last_error: null });
  },

  markFailed: async (db, id, at, error) => {
    await db(table).where({ id }).update({ status: 'failed', updated_at: at, last_error: error });
  },

  reschedule: async (db, id, at, nextAttemptAt, error) => {
    await db(table)
      .where({ id, status: 'pending' })
      .update({ next_attempt_at: nextAttemptAt, updated_at: at, last_error: error });
  },

  forgetFinished: (db, before) =>
    db(table).whereIn('status', ['delivered', 'failed']).where('updated_at', '<', before).delete(),
});
