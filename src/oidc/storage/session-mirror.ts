// Keeps the durable record of citizens' sessions (src/sessions) in step with the engine: the
// Session model's adapter is wrapped so every save of a signed-in session is mirrored first
// (and refused when the session was ended meanwhile), the sign-in's device and client come from
// the `authorization.success` event, and RP-initiated logout is recorded from `end_session.success`.
// The same statement records the request's other durable writes: "connected systems" and the
// grant the request made under a consent (noted by loadExistingGrant: grantIssued).
import type {
  Adapter,
  AdapterConstructor,
  AdapterPayload,
  KoaContextWithOIDC,
} from 'oidc-provider';
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import type { SessionService } from '../../sessions/index.ts';
import { createGrantRevoker } from '../sessions/grant-revocation.ts';
import { installBackchannelQueue } from '../sessions/backchannel-queue.ts';
import { currentEngineRequest } from './request-memo.ts';

type Activity = {
  userAgent: string | undefined;
  ip: string | undefined;
  clientId: string | undefined;
  at: number;
};

const SIGNED_OUT_COOKIE = 'oneid_signed_out';
const ACTIVITY_TTL_MS = 60_000;
const ACTIVITY_MAX = 10_000;
// A save without a TTL (the engine always gives one) is recorded as ending in 30 days.
const NO_TTL_SECONDS = 30 * 86400;

/**
 * `Store` is the engine's storage; `sessions` a getter (the service needs the session engine,
 * which saves through the adapter made here).
 */
export const createSessionTracking = ({
  sessions: service,
  Store,
  log,
}: {
  sessions: () => SessionService;
  Store: AdapterConstructor;
  log: Logger;
}) => {
  // What the request that is about to save a session told: its browser, address and client.
  // Written by the authorization.success event, read by the save that follows in the same request.
  const activity = new Map<string, Activity>();
  const note = (uid: string, entry: Activity) => {
    if (activity.size >= ACTIVITY_MAX) {
      for (const [key, value] of activity)
        if (value.at < entry.at - ACTIVITY_TTL_MS || activity.size >= ACTIVITY_MAX)
          activity.delete(key);
    }
    activity.set(uid, entry);
  };
  const take = (uid: string) => {
    const entry = activity.get(uid);
    activity.delete(uid);
    return entry && entry.at > Date.now() - ACTIVITY_TTL_MS ? entry : undefined;
  };
  // Grants made under a consent in requests now running, by grant id -> consent id: recorded by
  // the session save that follows in the same request (the session payload names its grants),
  // or, if that save does not come, revoked as the request ends (install): no grant outlives its
  // request without being on its consent's list, which is what withdrawal revokes.
  const pendingGrants = new Map<string, string>();
  const revokeGrant = createGrantRevoker(Store);
  const pendingGrantOf = (payload: AdapterPayload) => {
    for (const { grantId } of Object.values(payload.authorizations ?? {})) {
      const consentId = grantId && pendingGrants.get(grantId);
      if (consentId) return { consentId, grantId };
    }
    return undefined;
  };

  // The engine saves a session once more after answering a request's error (its
  // ensureSessionSave): after a failed save that second one would store the session without
  // the sign-in's device and client, and record the grant the failure left to be revoked
  // (test/hardening/session-save-fault.test.ts). A session whose save failed stays unsaved.
  const notSavedAgain = () => {
    const ctx = currentEngineRequest() as KoaContextWithOIDC | undefined;
    const session = ctx?.oidc.session as { touched?: boolean } | undefined;
    if (session) session.touched = false;
  };

  class TrackedSessionAdapter implements Adapter {
    readonly #inner = new Store('Session');

    async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
      const { uid, accountId } = payload as AdapterPayload & { uid?: string };
      if (!uid || !accountId) return this.#inner.upsert(id, payload, expiresIn);
      const sids = Object.fromEntries(
        Object.entries(payload.authorizations ?? {}).flatMap(([clientId, a]) =>
          a.sid ? [[clientId, a.sid]] : [],
        ),
      );
      const grant = pendingGrantOf(payload);
      const { keep, revokeGrant: lost } = await service()
        .record({
          uid,
          accountId,
          sids,
          expiresAt: new Date(Date.now() + (expiresIn ?? NO_TTL_SECONDS) * 1000),
          activity: take(uid),
          grant,
        })
        .catch((error: unknown) => {
          notSavedAgain();
          throw error;
        });
      // Recorded (or refused below); if the statement failed it stays pending and is revoked.
      if (grant) pendingGrants.delete(grant.grantId);
      // The consent ended after the grant was decided from it (claims/consent-grants.ts): the
      // grant goes, with the code made under it, before the answer leaves.
      if (lost && grant) {
        log.warn({ consentId: grant.consentId }, 'consent ended during a sign-in: grant revoked');
        await revokeGrant(grant.grantId);
      }
      // Ended elsewhere (My One-ID, an administrator) while this request ran: do not bring it back.
      if (keep) await this.#inner.upsert(id, payload, expiresIn);
      else await this.#inner.destroy(id);
    }
    find(id: string) {
      return this.#inner.find(id);
    }
    findByUid(uid: string) {
      return this.#inner.findByUid(uid);
    }
    findByUserCode(userCode: string) {
      return this.#inner.findByUserCode(userCode);
    }
    consume(id: string) {
      return this.#inner.consume(id);
    }
    destroy(id: string) {
      return this.#inner.destroy(id);
    }
    revokeByGrantId(grantId: string) {
      return this.#inner.revokeByGrantId(grantId);
    }
  }

  const TrackedAdapter = function (this: unknown, name: string) {
    return name === 'Session' ? new TrackedSessionAdapter() : new Store(name);
  } as unknown as AdapterConstructor;

  return {
    /** The engine's adapter with session tracking: pass it as `adapter` to every provider built. */
    Adapter: TrackedAdapter,

    /** Notes a grant made under a consent in this request, for the session save to record. */
    grantIssued(consentId: string, grantId: string) {
      pendingGrants.set(grantId, consentId);
    },

    /** Hooks one provider (call for each one built): the durable logout queue and the session events. */
    install(provider: Provider): Provider {
      installBackchannelQueue(provider, (d) => service().enqueue(d));
      provider.use(async (koaCtx, next) => {
        try {
          await next();
        } finally {
          const ctx = koaCtx as unknown as KoaContextWithOIDC;
          // A save that failed after the engine made its answer: the error page it then renders
          // keeps that answer's Location, code and all.
          if (ctx.status >= 400) ctx.remove('Location');
          const grantId = ctx.oidc?.entities?.Grant?.jti;
          // A grant noted and not recorded: the session save failed, or none followed.
          if (grantId && pendingGrants.delete(grantId)) {
            log.warn('a grant made under a consent was not recorded: revoking it');
            await revokeGrant(grantId).catch((err: unknown) =>
              log.error({ err }, 'could not revoke an unrecorded grant'),
            );
          }
        }
      });
      provider.on('authorization.success', (ctx: KoaContextWithOIDC) => {
        const uid = ctx.oidc.session?.uid;
        if (uid)
          note(uid, {
            userAgent: ctx.get('user-agent') || undefined,
            ip: ctx.ip,
            clientId: ctx.oidc.client?.clientId,
            at: Date.now(),
          });
      });
      provider.on('end_session.success', (ctx: KoaContextWithOIDC) => {
        const session = ctx.oidc.session as
          (KoaContextWithOIDC['oidc']['session'] & { destroyed?: boolean }) | undefined;
        if (!session?.destroyed || !session.accountId) return;
        // The signed-out page names the systems of this session: it finds them by this cookie.
        ctx.cookies.set(SIGNED_OUT_COOKIE, session.uid, {
          signed: true,
          httpOnly: true,
          sameSite: 'lax',
          secure: ctx.secure,
          path: '/session/end',
          maxAge: 10 * 60_000,
          overwrite: true,
        });
        void service()
          .loggedOut(session.uid, session.accountId, ctx.ip)
          .catch((err: unknown) => log.error({ err }, 'could not record a logout'));
      });
      return provider;
    },

    /** For the sign-out question: the agency systems of the browser's current session. */
    async currentSystems(ctx: KoaContextWithOIDC): Promise<string[]> {
      const uid = ctx.oidc.session?.uid;
      return uid ? (await service().systemsOfSession(uid)).map((s) => s.name) : [];
    },

    /**
     * For the signed-out page: the agency systems of the session this browser just ended, or
     * undefined when this browser ended none (nothing was signed out: the page must not say so).
     */
    async signedOutSystems(ctx: KoaContextWithOIDC): Promise<string[] | undefined> {
      const uid = ctx.cookies.get(SIGNED_OUT_COOKIE, { signed: true });
      if (!uid) return undefined;
      ctx.cookies.set(SIGNED_OUT_COOKIE, null, {
        signed: true,
        httpOnly: true,
        sameSite: 'lax',
        secure: ctx.secure,
        path: '/session/end',
        overwrite: true,
      });
      return (await service().systemsOfSession(uid)).map((s) => s.name);
    },
  };
};

export type SessionTracking = ReturnType<typeof createSessionTracking>;
