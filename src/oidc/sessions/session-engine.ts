// What the sessions domain asks of the engine's store: is a session live, remove it (revoking
// its grants as RP-initiated logout does), make it forget one client. Works on the adapter
// (Redis or in-process) directly, so it needs no request context and survives provider rebuilds.
import type { AdapterConstructor, AdapterPayload } from 'oidc-provider';
import type { SessionEngine } from '../../sessions/index.ts';
import { createGrantRevoker } from './grant-revocation.ts';

/**
 * `Adapter` is the store; `TrackedAdapter` the same store behind session tracking, used where a
 * session is saved again so its durable record follows.
 */
export const createSessionEngine = ({
  Adapter,
  TrackedAdapter,
}: {
  Adapter: AdapterConstructor;
  TrackedAdapter: AdapterConstructor;
}): SessionEngine => {
  const sessions = new Adapter('Session');
  const tracked = new TrackedAdapter('Session');
  const revokeGrant = createGrantRevoker(Adapter);
  const find = (uid: string) => sessions.findByUid(uid) as Promise<AdapterPayload | undefined>;

  return {
    async liveUntil(uid) {
      const payload = await find(uid);
      if (!payload) return undefined;
      // A session saved without a TTL has no exp: live as far as we can tell.
      return new Date((payload.exp ?? Math.floor(Date.now() / 1000) + 86400) * 1000);
    },

    async destroy(uid, revoke) {
      const payload = await find(uid);
      if (!payload?.jti) return;
      for (const authorization of Object.values(payload.authorizations ?? {})) {
        if (authorization.grantId && (revoke === 'all' || !authorization.persistsLogout))
          await revokeGrant(authorization.grantId);
      }
      await sessions.destroy(payload.jti);
    },

    async dropClient(uid, clientId) {
      const payload = await find(uid);
      const authorization = payload?.authorizations?.[clientId];
      if (!payload?.jti || !authorization) return;
      delete payload.authorizations![clientId];
      const left = (payload.exp ?? 0) - Math.floor(Date.now() / 1000);
      if (left > 0) await tracked.upsert(payload.jti, payload, left);
      if (authorization.grantId) await revokeGrant(authorization.grantId);
    },

    revokeGrant,
  };
};
