// Citizens' One-ID sessions as a durable record, and every way one ends: RP-initiated logout,
// the citizen ending one from My One-ID, an administrator, a timeout, a consent withdrawal, a
// disabled client. Whenever a session ends for an agency system, a logout token for that system
// is queued in the same transaction (backchannel_deliveries), so it is sent even if this
// process dies right after; the delivery worker sends it.
import type { Knex } from 'knex';
import { appendAudit } from '../audit/index.ts';
import { isFirstPartyClient, type ClientService } from '../clients/index.ts';
import { newId, type Clock } from '../shared/index.ts';
import {
  insertDeliveries,
  withBackchannel,
  type LogoutReason,
  type NewDelivery,
} from './delivery-repo.ts';
import { clipUserAgent, deviceLabel, networkOf } from './device.ts';
import {
  claimExpired,
  claimUnpurged,
  deleteEndedBefore,
  findSession,
  listLiveSessions,
  listOpenSessions,
  listOpenSessionsWithClient,
  lockOpenSessions,
  markEnded,
  markPurged,
  saveSession,
  setExpiry,
  type EndReason,
  type SessionClient,
  type SessionRecord,
} from './session-repo.ts';

/** What the OIDC engine does for this domain (implemented in src/oidc/sessions/session-engine.ts). */
export type SessionEngine = {
  /** Until when the engine's store holds the session (its `exp`), or undefined when it is gone. */
  liveUntil(uid: string): Promise<Date | undefined>;
  /**
   * Removes the session from the engine's store and revokes its grants: `all` of them, or
   * `with-session` only those that end with the session (as RP-initiated logout does).
   */
  destroy(uid: string, revoke: 'with-session' | 'all'): Promise<void>;
  /** Forgets one client in a live session: its grant is revoked and its next sign-in gets a new sid. */
  dropClient(uid: string, clientId: string): Promise<void>;
  revokeGrant(grantId: string): Promise<void>;
};

/** A session as My One-ID shows it. */
export type SessionView = {
  uid: string;
  /** "Chrome · Windows", or '' when the browser is not recognised. */
  device: string;
  /** e.g. "203.0.113.0/24" (never the full address), or null. */
  network: string | null;
  signedInAt: Date;
  lastSeenAt: Date;
  expiresAt: Date;
  /** Agency systems used in the session (One-ID's own pages left out). */
  systems: { clientId: string; name: string }[];
  /** The session of the browser asking. */
  current: boolean;
};

/** What a session save tells about the session: from the engine's Session payload. */
export type SessionSnapshot = {
  uid: string;
  accountId: string;
  /** clientId -> sid, as in the payload's `authorizations`. */
  sids: Record<string, string>;
  expiresAt: Date;
  /** The request behind the save, when it was a sign-in or authorization. */
  activity?:
    | { userAgent?: string | undefined; ip?: string | undefined; clientId?: string | undefined }
    | undefined;
  /** A grant the request made under a consent, to record on it (withdrawal revokes them all). */
  grant?: { consentId: string; grantId: string } | undefined;
};

type Deps = {
  knex: Knex;
  clock: Clock;
  issuer: string;
  clients: ClientService;
  /** Absent where the engine does not run (the CLI): its share of the work is left to the servers. */
  engine?: SessionEngine | undefined;
  /** Called after logout tokens were queued (the worker then sends them without waiting for its next poll). */
  onQueued?: (() => void) | undefined;
};

const RETENTION_DAYS = 30;
const BATCH = 100;

export const createSessionService = ({ knex, clock, issuer, clients, engine, onQueued }: Deps) => {
  const iso = (d: Date) => d.toISOString();

  const nameOf = async (clientId: string) =>
    String((await clients.find(clientId))?.metadata.client_name ?? clientId);

  /**
   * Queues one logout token per (client, sid) for clients that registered a back-channel logout
   * URI. Uses only `db` (the caller's transaction, if any).
   */
  const queue = async (
    db: Knex,
    accountId: string,
    sessionUid: string | null,
    sids: Record<string, string>,
    reason: LogoutReason,
  ) => {
    const candidates = Object.keys(sids).filter((clientId) => !isFirstPartyClient(clientId));
    const capable = await withBackchannel(db, candidates);
    const rows: NewDelivery[] = candidates
      .filter((clientId) => capable.has(clientId))
      .map((clientId) => ({
        id: newId(),
        issuer,
        clientId,
        accountId,
        sid: sids[clientId]!,
        sessionUid,
        reason,
      }));
    return insertDeliveries(db, rows, clock.now());
  };

  const sidsOf = (row: SessionRecord) =>
    Object.fromEntries(Object.entries(row.clients).map(([clientId, c]) => [clientId, c.sid]));

  // Ends locked rows in the caller's transaction: marks them, queues their tokens, audits.
  const endRows = async (
    trx: Knex.Transaction,
    rows: SessionRecord[],
    reason: EndReason,
    actor: string,
    ip?: string,
  ) => {
    let tokens = 0;
    for (const row of rows) {
      if (!(await markEnded(trx, issuer, row.uid, reason, clock.now(), false))) continue;
      tokens += await queue(trx, row.accountId, row.uid, sidsOf(row), reason);
      await appendAudit(trx, {
        action: 'sessions.ended',
        actor,
        subject: `account:${row.accountId}`,
        ip,
        details: { session: row.uid, reason, clients: Object.keys(row.clients) },
      });
    }
    return tokens;
  };

  // After commit: the engine forgets the sessions now. Without the engine (the CLI), or when
  // the store fails, the rows stay unpurged and a server's purge sweep finishes the job.
  const purge = async (rows: SessionRecord[], reason: EndReason) => {
    if (!engine) return;
    const done: string[] = [];
    for (const row of rows) {
      try {
        await engine.destroy(row.uid, reason === 'admin' ? 'all' : 'with-session');
        done.push(row.uid);
      } catch {
        // left to purgeEnded
      }
    }
    await markPurged(knex, issuer, done, clock.now());
  };

  const endWhere = async (
    accountId: string,
    uid: string | undefined,
    reason: EndReason,
    actor: string,
    ip?: string,
  ) => {
    const { rows, tokens } = await knex.transaction(async (trx) => {
      const locked = await lockOpenSessions(trx, issuer, accountId, uid);
      return { rows: locked, tokens: await endRows(trx, locked, reason, actor, ip) };
    });
    if (tokens) onQueued?.();
    await purge(rows, reason);
    return { sessions: rows.length, tokens };
  };

  const systemsOf = async (row: SessionRecord) =>
    Promise.all(
      Object.entries(row.clients)
        .filter(([clientId]) => !isFirstPartyClient(clientId))
        .sort(([, a], [, b]) => a.firstAt.localeCompare(b.firstAt))
        .map(async ([clientId]) => ({ clientId, name: await nameOf(clientId) })),
    );

  return {
    /**
     * Mirrors a save of a signed-in session, with the sign-in's "connected systems" entry and
     * its grant's record on the consent (one statement). `keep` false: the session was ended
     * meanwhile; the caller must then drop the save (and the stored session), so an ended session
     * never comes back. Clients it gained after ending still get their logout token.
     * `revokeGrant` true: the grant's consent was withdrawn or ended since the grant was decided,
     * so it was not recorded; the caller must revoke it before the request answers.
     */
    async record(s: SessionSnapshot): Promise<{ keep: boolean; revokeGrant: boolean }> {
      const now = clock.now();
      const late = async (row: SessionRecord) => {
        const fresh = Object.fromEntries(
          Object.entries(s.sids).filter(([clientId, sid]) => row.clients[clientId]?.sid !== sid),
        );
        if (
          Object.keys(fresh).length &&
          (await queue(knex, row.accountId, row.uid, fresh, row.endedReason ?? 'remote'))
        )
          onQueued?.();
        return false;
      };
      // One statement in the usual case (issue 16): the upsert keeps what the row knew of a
      // client whose sid is unchanged (saveSession). Only when it wrote nothing (the session was
      // ended meanwhile, or belongs to another issuer) is the row read, to queue late logouts.
      const clients: Record<string, SessionClient> = {};
      for (const [clientId, sid] of Object.entries(s.sids))
        clients[clientId] = { sid, firstAt: iso(now), lastAt: iso(now) };
      const usedClientId = s.activity?.clientId;
      const { saved, granted } = await saveSession(knex, {
        uid: s.uid,
        issuer,
        accountId: s.accountId,
        userAgent: clipUserAgent(s.activity?.userAgent),
        network: networkOf(s.activity?.ip),
        now,
        expiresAt: s.expiresAt,
        clients,
        usedClientId,
        signedInTo: usedClientId && !isFirstPartyClient(usedClientId) ? usedClientId : undefined,
        grant: s.grant,
      });
      const revokeGrant = Boolean(s.grant) && !granted;
      if (saved) return { keep: true, revokeGrant };
      const ended = await findSession(knex, issuer, s.uid);
      return { keep: ended ? await late(ended) : false, revokeGrant };
    },

    /** Records the end of a session the engine itself destroyed (RP-initiated logout; it queued the tokens). */
    async loggedOut(uid: string, accountId: string, ip?: string): Promise<void> {
      await knex.transaction(async (trx) => {
        const row = await markEnded(trx, issuer, uid, 'logout', clock.now(), true);
        if (row)
          await appendAudit(trx, {
            action: 'sessions.ended',
            actor: `account:${accountId}`,
            subject: `account:${accountId}`,
            ip,
            details: { session: uid, reason: 'logout', clients: Object.keys(row.clients) },
          });
      });
    },

    /** Queues one logout token (the engine's RP-initiated logout calls this for each client). */
    async enqueue(d: {
      clientId: string;
      accountId: string;
      sid: string;
      sessionUid?: string | undefined;
      reason: LogoutReason;
    }): Promise<void> {
      const queued = await insertDeliveries(
        knex,
        [
          {
            id: newId(),
            issuer,
            clientId: d.clientId,
            accountId: d.accountId,
            sid: d.sid,
            sessionUid: d.sessionUid ?? null,
            reason: d.reason,
          },
        ],
        clock.now(),
      );
      if (queued) onQueued?.();
    },

    /** The citizen's live sessions for My One-ID, the asking browser's marked `current`. */
    async listActive(accountId: string, currentUid?: string): Promise<SessionView[]> {
      const rows = await listLiveSessions(knex, issuer, accountId, clock.now());
      const live = engine
        ? (
            await Promise.all(
              rows.map(async (r) => ((await engine.liveUntil(r.uid)) ? r : undefined)),
            )
          ).filter((r) => r !== undefined)
        : rows;
      return Promise.all(
        live.map(async (r) => ({
          uid: r.uid,
          device: deviceLabel(r.userAgent),
          network: r.network,
          signedInAt: r.createdAt,
          lastSeenAt: r.lastSeenAt,
          expiresAt: r.expiresAt,
          systems: await systemsOf(r),
          current: r.uid === currentUid,
        })),
      );
    },

    /** The agency systems of a session (for the signed-out page), one-id's own left out. */
    async systemsOfSession(uid: string): Promise<{ clientId: string; name: string }[]> {
      const row = await findSession(knex, issuer, uid);
      return row ? systemsOf(row) : [];
    },

    /** The citizen ends one of their sessions (My One-ID). False when it is not theirs or already over. */
    async end(
      accountId: string,
      uid: string,
      context: { actor: string; ip?: string | undefined },
    ): Promise<boolean> {
      return (await endWhere(accountId, uid, 'remote', context.actor, context.ip)).sessions > 0;
    },

    /**
     * An administrator ends every session of a citizen (e.g. a lost phone): every grant is
     * revoked, refresh tokens included, and every system used gets a logout token.
     */
    endAllForAccount: (accountId: string, context: { actor: string }) =>
      endWhere(accountId, undefined, 'admin', context.actor),

    /**
     * Signs the citizen out of one client in every live session (consent withdrawal): a logout
     * token per session, the client forgotten by the session, its grants revoked, plus `grantIds`
     * (e.g. the withdrawn consent's, which may hold refresh tokens outliving any session).
     * Returns the number of tokens queued.
     */
    async logoutClient(
      accountId: string,
      clientId: string,
      reason: LogoutReason,
      options: { grantIds?: string[]; actor?: string } = {},
    ): Promise<number> {
      const rows = await listOpenSessionsWithClient(knex, issuer, clientId, {
        accountId,
        limit: 1000,
      });
      const tokens = await knex.transaction(async (trx) => {
        let queued = 0;
        for (const row of rows)
          queued += await queue(
            trx,
            accountId,
            row.uid,
            { [clientId]: row.clients[clientId]!.sid },
            reason,
          );
        await appendAudit(trx, {
          action: 'sessions.client.signed-out',
          actor: options.actor ?? 'system',
          subject: `account:${accountId}`,
          details: { clientId, reason, sessions: rows.map((r) => r.uid), tokens: queued },
        });
        return queued;
      });
      if (tokens) onQueued?.();
      if (engine) {
        for (const row of rows) await engine.dropClient(row.uid, clientId);
        for (const grantId of options.grantIds ?? []) await engine.revokeGrant(grantId);
      }
      return tokens;
    },

    /**
     * Signs every citizen out of one client (the client is being disabled): a logout token per
     * session that used it; sessions forget it. Returns the number of tokens queued.
     */
    async logoutClientEverywhere(
      clientId: string,
      reason: LogoutReason,
      options: { actor?: string } = {},
    ): Promise<number> {
      let after: string | undefined;
      let total = 0;
      const touched: string[] = [];
      for (;;) {
        const rows = await listOpenSessionsWithClient(knex, issuer, clientId, {
          ...(after && { after }),
          limit: 500,
        });
        if (!rows.length) break;
        after = rows.at(-1)!.uid;
        total += await knex.transaction(async (trx) => {
          let queued = 0;
          for (const row of rows)
            queued += await queue(
              trx,
              row.accountId,
              row.uid,
              { [clientId]: row.clients[clientId]!.sid },
              reason,
            );
          return queued;
        });
        touched.push(...rows.map((r) => r.uid));
        if (total) onQueued?.();
      }
      await knex.transaction((trx) =>
        appendAudit(trx, {
          action: 'sessions.client.signed-out',
          actor: options.actor ?? 'system',
          subject: `client:${clientId}`,
          details: { reason, sessions: touched.length, tokens: total },
        }),
      );
      if (engine) for (const uid of touched) await engine.dropClient(uid, clientId);
      return total;
    },

    /**
     * Finds sessions that timed out (the store expires them silently), marks them ended and
     * queues their logout tokens. Needs the engine (a session still in the store is not over).
     */
    async sweepExpired(): Promise<number> {
      if (!engine) return 0;
      let ended = 0;
      for (;;) {
        const now = clock.now();
        const { count, tokens, claimed } = await knex.transaction(async (trx) => {
          const rows = await claimExpired(trx, issuer, now, BATCH);
          const gone: SessionRecord[] = [];
          for (const row of rows) {
            // Still in the store (the record was written just before the store's copy): look
            // again when the store's copy expires.
            const until = await engine.liveUntil(row.uid);
            if (until)
              await setExpiry(
                trx,
                issuer,
                row.uid,
                new Date(Math.max(until.getTime(), now.getTime()) + 1000),
              );
            else gone.push(row);
          }
          let queued = 0;
          for (const row of gone) {
            await markEnded(trx, issuer, row.uid, 'expired', now, true);
            queued += await queue(trx, row.accountId, row.uid, sidsOf(row), 'expired');
            await appendAudit(trx, {
              action: 'sessions.ended',
              actor: 'system',
              subject: `account:${row.accountId}`,
              details: { session: row.uid, reason: 'expired', clients: Object.keys(row.clients) },
            });
          }
          return { count: gone.length, tokens: queued, claimed: rows.length };
        });
        ended += count;
        if (tokens) onQueued?.();
        if (claimed < BATCH) return ended;
      }
    },

    /**
     * With the in-process store, a restart loses every session: ends those recorded as open and
     * tells their systems. Call once at start, before serving (with Redis, sessions survive).
     */
    async endLostSessions(): Promise<number> {
      if (!engine) return 0;
      let ended = 0;
      for (let after = ''; ;) {
        const rows = await listOpenSessions(knex, issuer, after, BATCH);
        if (!rows.length) return ended;
        after = rows.at(-1)!.uid;
        const lost: SessionRecord[] = [];
        for (const row of rows) if (!(await engine.liveUntil(row.uid))) lost.push(row);
        const tokens = await knex.transaction(async (trx) => {
          let queued = 0;
          for (const row of lost) {
            if (!(await markEnded(trx, issuer, row.uid, 'restart', clock.now(), true))) continue;
            ended += 1;
            queued += await queue(trx, row.accountId, row.uid, sidsOf(row), 'restart');
            await appendAudit(trx, {
              action: 'sessions.ended',
              actor: 'system',
              subject: `account:${row.accountId}`,
              details: { session: row.uid, reason: 'restart', clients: Object.keys(row.clients) },
            });
          }
          return queued;
        });
        if (tokens) onQueued?.();
      }
    },

    /** Removes from the engine's store the sessions ended where the engine does not run (the CLI). */
    async purgeEnded(): Promise<number> {
      if (!engine) return 0;
      return knex.transaction(async (trx) => {
        const rows = await claimUnpurged(trx, issuer, BATCH);
        for (const row of rows)
          await engine.destroy(row.uid, row.endedReason === 'admin' ? 'all' : 'with-session');
        await markPurged(
          trx,
          issuer,
          rows.map((r) => r.uid),
          clock.now(),
        );
        return rows.length;
      });
    },

    /** Deletes session records ended more than 30 days ago (with their device and network). */
    forgetOld: () =>
      deleteEndedBefore(knex, new Date(clock.now().getTime() - RETENTION_DAYS * 86400_000)),
  };
};

export type SessionService = ReturnType<typeof createSessionService>;
