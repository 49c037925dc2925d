// What the sessions domain asks of the engine's store: is a session live, remove it (revoking
// its grants as RP-initiated logout does), make it forget one client. Works on the adapter
// (Redis or in-process) directly, so it needs no request context and survives provider rebuilds.
import type { AdapterConstructor, AdapterPayload } from 'oidc-provider';
import type { SessionEngine } from '../sessions/index.ts';

// The models a grant's tokens live in (the engine's revoke helper uses the same list).
const GRANTABLE = ['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest'];

/**
 * `Adapter` is the store; `TrackedAdapter` the same store behind session tracking, used where a
 * session is saved again so its durable record follows.
 */
export const createSessionEngine = ({ Adapter, TrackedAdapter }: { Adapter: AdapterConstructor; TrackedAdapter: AdapterConstructor }): SessionEngine => {
  const sessions = new Adapter('Session');
  const tracked = new TrackedAdapter('Session');
  const grantables = GRANTABLE.map((model) => new Adapter(model));
  const grants = new Adapter('Grant');

  const revokeGrant = async (grantId: string) => {
    await Promise.all(grantables.map((adapter) => adapter.revokeByGrantId(grantId)));
    await grants.destroy(grantId);
  };
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
        if (authorization.grantId && (revoke === 'all' || !authorization.persistsLogout)) await revokeGrant(authorization.grantId);
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
