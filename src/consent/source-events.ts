// A withdrawal reaching the source agency: One-ID remembers each distributed-claim token it hands
// out (until it expires), and when the citizen withdraws consent, the consent expires, or an
// administrator ends the citizen's sessions, queues one event per token still live telling its
// source to refuse it (pushed by security-event-token.ts through the sessions' delivery worker).
// Without this, a requesting system would keep redeeming a token it already holds for up to its
// lifetime after the citizen said no (docs/claim-sources.md, section 3).
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { DeliveryQueue } from '../sessions/index.ts';
import type { Clock } from '../shared/index.ts';
import {
  forgetOldSourceEvents,
  insertIssuedToken,
  queueRevocations,
  sourceEventRows,
  type IssuedToken,
  type RevocationReason,
  type SourceEvent,
} from './source-event-repo.ts';

// A source may accept a token this long past its `exp` (clock skew): it is still named.
const EXPIRY_LEEWAY_MS = 60_000;
const FINISHED_RETENTION_DAYS = 30;

/** The queue of source events, for the sessions' delivery worker. */
export const sourceEventQueue: DeliveryQueue<SourceEvent> = {
  ...sourceEventRows,
  audit: (row, error) => ({
    action: error === undefined ? 'claims.source-event.delivered' : 'claims.source-event.failed',
    subject: `account:${row.accountId}`,
    details: {
      delivery: row.id,
      reason: row.reason,
      clientId: row.clientId,
      source: new URL(row.audience).host,
      attempts: row.attempts,
      ...(error !== undefined && { error }),
    },
  }),
  noun: 'claim source security event',
  logFields: (row) => ({ source: new URL(row.audience).host, delivery: row.id }),
};

export const createSourceEvents = ({
  knex,
  clock,
  issuer,
  onQueued,
}: {
  knex: Knex;
  clock: Clock;
  issuer: string;
  /** Told when events were queued, e.g. to wake the worker. */
  onQueued?: (() => void) | undefined;
}) => ({
  /**
   * Remembers a distributed token before it is handed out: a token One-ID cannot name later
   * must not be handed out, so the caller leaves the claim out when this throws.
   */
  remember: (token: IssuedToken) => insertIssuedToken(knex, token),

  /**
   * Queues an event for every live distributed token of the account, of `clientId` only when
   * given (a consent concerns one requesting system; ended sessions, all). Returns the number queued.
   */
  async revoke(
    accountId: string,
    clientId: string | undefined,
    reason: RevocationReason,
  ): Promise<number> {
    const now = clock.now();
    const expiringAfter = new Date(now.getTime() - EXPIRY_LEEWAY_MS);
    const queued = await queueRevocations(
      knex,
      issuer,
      { accountId, clientId, expiringAfter },
      reason,
      now,
      randomUUID,
    );
    if (queued) onQueued?.();
    return queued;
  },

  /** Forgets expired tokens and old finished events (the sessions' sweep). */
  forgetOld: () =>
    forgetOldSourceEvents(
      knex,
      new Date(clock.now().getTime() - EXPIRY_LEEWAY_MS),
      new Date(clock.now().getTime() - FINISHED_RETENTION_DAYS * 86400_000),
    ),
});

export type SourceEvents = ReturnType<typeof createSourceEvents>;
