// The back-channel logout worker, one per instance: claims due rows of the queue (FOR UPDATE
// SKIP LOCKED, so instances share the work without waiting on each other), sends each logout
// token through the engine, then marks it delivered or reschedules it with backoff. Sending
// happens outside any transaction, several at once, each bounded by `timeoutMs`: a slow or
// dead receiver delays only its own tokens, never a citizen's page nor other agencies' tokens.
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { appendAudit } from '../audit/index.ts';
import { AppError, type Clock } from '../shared/index.ts';
import { retryDelayMs } from './backoff.ts';
import { claimDue, markDelivered, markFailed, reschedule, type Delivery } from './delivery-repo.ts';

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

type Deps = {
  knex: Knex;
  clock: Clock;
  issuer: string;
  /** Mints and POSTs the logout token (the engine's own code); throws when the receiver did not answer 200/204. */
  send: (delivery: Delivery) => Promise<void>;
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

export const createDeliveryWorker = ({
  knex,
  clock,
  issuer,
  send,
  settings,
  log,
  onDelivery,
  concurrency = 16,
  random = Math.random,
}: Deps) => {
  // A claimed row is someone's for this long: if its instance dies mid-delivery, another retries it after.
  const leaseMs = settings.timeoutMs * 2 + 10_000;
  const inflight = new Set<Promise<void>>();
  let stopped = true;
  let claiming = false;
  let again = false;
  let timer: NodeJS.Timeout | undefined;

  const finish = async (
    row: Delivery,
    action: 'logout.backchannel.delivered' | 'logout.backchannel.failed',
    error?: string,
  ) => {
    const now = clock.now();
    await knex.transaction(async (trx) => {
      if (error === undefined) await markDelivered(trx, row.id, now);
      else await markFailed(trx, row.id, now, error);
      await appendAudit(trx, {
        action,
        actor: 'system',
        subject: `client:${row.clientId}`,
        details: {
          delivery: row.id,
          reason: row.reason,
          attempts: row.attempts,
          session: row.sessionUid,
          ...(error !== undefined && { error }),
        },
      });
    });
  };

  const deliver = async (row: Delivery) => {
    try {
      await withTimeout(send(row), settings.timeoutMs);
    } catch (error) {
      const message = errorText(error);
      if (error instanceof UndeliverableError || row.attempts >= settings.maxAttempts) {
        log.warn(
          { client: row.clientId, delivery: row.id, attempts: row.attempts, error: message },
          'back-channel logout token given up',
        );
        await finish(row, 'logout.backchannel.failed', message);
        onDelivery?.('abandoned');
      } else {
        const delay = retryDelayMs(row.attempts, settings.retryBaseMs, random);
        log.info(
          {
            client: row.clientId,
            delivery: row.id,
            attempts: row.attempts,
            retryInMs: delay,
            error: message,
          },
          'back-channel logout delivery failed; will retry',
        );
        const now = clock.now();
        await reschedule(knex, row.id, now, new Date(now.getTime() + delay), message);
        onDelivery?.('failure');
      }
      return;
    }
    // Should this write fail, the lease runs out and the token is sent again: receivers must
    // accept duplicates (docs/logout.md).
    await finish(row, 'logout.backchannel.delivered');
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
        const rows = await claimDue(knex, issuer, clock.now(), room, leaseMs);
        claimed += rows.length;
        for (const row of rows) {
          const job: Promise<void> = deliver(row)
            .catch((error: unknown) =>
              log.error(
                { delivery: row.id, err: error },
                'back-channel delivery bookkeeping failed',
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
      log.warn({ err: error }, 'back-channel logout queue poll failed');
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
