// The back-channel logout worker, one per instance: claims due rows of the queue (FOR UPDATE
// SKIP LOCKED, so instances share the work without waiting on each other), sends each logout
// token through the engine, then marks it delivered or reschedules it with backoff. Sending
// happens outside any transaction, several at once, each bounded by `timeoutMs`: a slow or
// dead receiver delays only its own tokens, never a citizen's page nor other agencies' tokens.
// The same worker drives other durable queues of the same shape (`queue`), e.g. the security
// events pushed to claim sources (src/consent/source-events).
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { appendAudit } from '../audit/index.ts';
import { AppError, type Clock } from '../shared/index.ts';
import { retryDelayMs } from './backoff.ts';
import { claimDue, markDelivered, markFailed, reschedule, type Delivery } from './delivery-repo.ts';

/** What the worker needs of a queue table: a row has an id and counts its attempts. */
export type QueuedDelivery = { id: string; attempts: number };

export type DeliveryQueue<R extends QueuedDelivery> = {
  claimDue: (db: Knex, issuer: string, now: Date, limit: number, leaseMs: number) => Promise<R[]>;
  markDelivered: (db: Knex.Transaction, id: string, at: Date) => Promise<void>;
  markFailed: (db: Knex.Transaction, id: string, at: Date, error: string) => Promise<void>;
  reschedule: (db: Knex, id: string, at: Date, nextAttemptAt: Date, error: string) => Promise<void>;
  /** The audit record written with a finished row (delivered, or given up with `error`). */
  audit: (
    row: R,
    error: string | undefined,
  ) => { action: string; subject: string; details: Record<string, unknown> };
  /** What is sent, for the log: e.g. 'back-channel logout token'. */
  noun: string;
  /** The row's fields the log names (never personal data). */
  logFields: (row: R) => Record<string, unknown>;
};

/** The back-channel logout queue (delivery-repo.ts): the worker's default. */
export const backchannelQueue: DeliveryQueue<Delivery> = {
  claimDue,
  markDelivered,
  markFailed,
  reschedule,
  audit: (row, error) => ({
    action: error === undefined ? 'logout.backchannel.delivered' : 'logout.backchannel.failed',
    subject: `client:${row.clientId}`,
    details: {
      delivery: row.id,
      reason: row.reason,
      attempts: row.attempts,
      session: row.sessionUid,
      ...(error !== undefined && { error }),
    },
  }),
  noun: 'back-channel logout token',
  logFields: (row) => ({ client: row.clientId, delivery: row.id }),
};

/** `failure`: this attempt failed and will be retried; `abandoned`: given up (the last attempt, or undeliverable). */
export type DeliveryOutcome = 'success' | 'failure' | 'abandoned';

/** A delivery that no retry can fix (the client is gone or has no back-channel logout URI). */
export class UndeliverableError extends AppError {
  constructor(message: string) {
    super('ERR_BACKCHANNEL_UNDELIVERABLE', message, { status: 500 });
  }
}

export type DeliverySettings = {
  pollMs: number;
  timeoutMs: number;
  retryBaseMs: number;
  maxAttempts: number;
};

type Deps<R extends QueuedDelivery> = {
  knex: Knex;
  /** The queue table; the back-channel logout queue when absent. */
  queue?: DeliveryQueue<R>;
  clock: Clock;
  issuer: string;
  /** Mints and POSTs the logout token (the engine's own code); throws when the receiver did not answer 200/204. */
  send: (delivery: R) => Promise<void>;
  settings: DeliverySettings;
  log: Logger;
  /** Told every attempt's outcome, e.g. for the oneid_backchannel_deliveries_total{outcome} counter. */
  onDelivery?: ((outcome: DeliveryOutcome) => void) | undefined;
  /** Deliveries in flight at once per instance. */
  concurrency?: number;
  random?: () => number;
};

const withTimeout = <T>(work: Promise<T>, ms: number): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });

const errorText = (error: unknown) =>
  (error instanceof Error ? error.message : String(error)).slice(0, 300);

export const createDeliveryWorker = <R extends QueuedDelivery = Delivery>({
  knex,
  queue = backchannelQueue as unknown as DeliveryQueue<R>,
  clock,
  issuer,
  send,
  settings,
  log,
  onDelivery,
  concurrency = 16,
  random = Math.random,
}: Deps<R>) => {
  // A claimed row is someone's for this long: if its instance dies mid-delivery, another retries it after.
  const leaseMs = settings.timeoutMs * 2 + 10_000;
  const inflight = new Set<Promise<void>>();
  let stopped = true;
  let claiming = false;
  let again = false;
  let timer: NodeJS.Timeout | undefined;

  const finish = async (row: R, error?: string) => {
    const now = clock.now();
    await knex.transaction(async (trx) => {
      if (error === undefined) await queue.markDelivered(trx, row.id, now);
      else await queue.markFailed(trx, row.id, now, error);
      await appendAudit(trx, { actor: 'system', ...queue.audit(row, error) });
    });
  };

  const deliver = async (row: R) => {
    try {
      await withTimeout(send(row), settings.timeoutMs);
    } catch (error) {
      const message = errorText(error);
      if (error instanceof UndeliverableError || row.attempts >= settings.maxAttempts) {
        log.warn(
          { ...queue.logFields(row), attempts: row.attempts, error: message },
          `${queue.noun} given up`,
        );
        await finish(row, message);
        onDelivery?.('abandoned');
      } else {
        const delay = retryDelayMs(row.attempts, settings.retryBaseMs, random);
        log.info(
          { ...queue.logFields(row), attempts: row.attempts, retryInMs: delay, error: message },
          `${queue.noun} delivery failed; will retry`,
        );
        const now = clock.now();
        await queue.reschedule(knex, row.id, now, new Date(now.getTime() + delay), message);
        onDelivery?.('failure');
      }
      return;
    }
    // Should this write fail, the lease runs out and the token is sent again: receivers must
    // accept duplicates (docs/logout.md).
    await finish(row);
    onDelivery?.('success');
  };

  /** Claims what is due (up to free capacity) and starts sending it; returns the number claimed. */
  const tick = async (): Promise<number> => {
    if (claiming) {
      again = true;
      return 0;
    }
    claiming = true;
    let claimed = 0;
    try {
      do {
        again = false;
        const room = concurrency - inflight.size;
        if (room <= 0) break;
        const rows = await queue.claimDue(knex, issuer, clock.now(), room, leaseMs);
        claimed += rows.length;
        for (const row of rows) {
          const job: Promise<void> = deliver(row)
            .catch((error: unknown) =>
              log.error(
                { delivery: row.id, err: error },
                `${queue.noun} delivery bookkeeping failed`,
              ),
            )
            .finally(() => {
              inflight.delete(job);
              // A slot is free: take the next due row now rather than at the next poll.
              if (!stopped) void tick();
            });
          inflight.add(job);
        }
        if (rows.length === room) again = true;
      } while (again && !stopped);
    } catch (error) {
      log.warn({ err: error }, `${queue.noun} queue poll failed`);
    } finally {
      claiming = false;
    }
    return claimed;
  };

  return {
    /** Claims and sends what is due now, and waits for those sends (for tests and the CLI). */
    async runOnce(): Promise<number> {
      const claimed = await tick();
      await Promise.all([...inflight]);
      return claimed;
    },
    /** Looks at the queue now (after tokens were queued), without waiting for the next poll. */
    kick() {
      if (!stopped) setImmediate(() => void tick());
    },
    start() {
      if (!stopped) return;
      stopped = false;
      timer = setInterval(() => void tick(), settings.pollMs);
      timer.unref();
      void tick();
    },
    /** Stops polling and waits for deliveries in flight (each bounded by timeoutMs). */
    async stop() {
      stopped = true;
      clearInterval(timer);
      while (claiming) await new Promise((resolve) => setTimeout(resolve, 5));
      await Promise.all([...inflight]);
    },
  };
};

export type DeliveryWorker = ReturnType<typeof createDeliveryWorker>;
