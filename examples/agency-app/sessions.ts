// The app's own sessions, in memory: a random cookie value -> what the app knows about the
// visitor. Indexed by One-ID's `sid` and `sub` so a back-channel logout can end them.
import { randomBytes } from 'node:crypto';

export type SignedInUser = {
  sub: string;
  sid: string | undefined;
  idToken: string;
  idTokenClaims: Record<string, unknown>;
  userinfo: Record<string, unknown>;
};

export type Session = {
  id: string;
  csrf: string;
  /** Between /login and /callback: what the callback must match. */
  pending?: { state: string; nonce: string; codeVerifier: string };
  user?: SignedInUser;
  /** The `state` sent with the RP-initiated logout, to recognise One-ID's redirect back. */
  logoutState?: string;
  expiresAt: number;
};

const token = () => randomBytes(32).toString('base64url');

export const createSessionStore = ({ ttlSeconds = 8 * 3600 }: { ttlSeconds?: number } = {}) => {
  const sessions = new Map<string, Session>();
  const live = (session: Session | undefined) =>
    session && session.expiresAt > Date.now() ? session : undefined;
  return {
    get: (id: string | undefined) => (id ? live(sessions.get(id)) : undefined),
    /** A new session with a new id (also on sign-in, so an id set before sign-in is never reused). */
    create(from?: Partial<Session>): Session {
      const session: Session = {
        ...from,
        id: token(),
        csrf: token(),
        expiresAt: Date.now() + ttlSeconds * 1000,
      };
      sessions.set(session.id, session);
      return session;
    },
    destroy: (id: string) => sessions.delete(id),
    /** Ends every session of the One-ID session `sid`, or of the citizen `sub` when no sid is given. */
    endFor({ sid, sub }: { sid?: string | undefined; sub?: string | undefined }): number {
      let ended = 0;
      for (const session of sessions.values()) {
        const user = session.user;
        if (!user) continue;
        // Back-Channel Logout 2.6: a `sid` names one One-ID session; without it, all of `sub`'s.
        const match = sid
          ? user.sid === sid && (!sub || user.sub === sub)
          : Boolean(sub) && user.sub === sub;
        if (match) {
          delete session.user;
          ended += 1;
        }
      }
      return ended;
    },
    size: () => sessions.size,
  };
};

export type SessionStore = ReturnType<typeof createSessionStore>;
