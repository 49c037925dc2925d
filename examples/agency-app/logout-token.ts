// Back-channel logout token validation (OpenID Connect Back-Channel Logout 1.0, section 2.6).
// openid-client v6 has no helper for it, so the app checks the token itself with jose.
import { errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';

export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

export type LogoutToken = { sub: string | undefined; sid: string | undefined; jti: string };

export class LogoutTokenError extends Error {
  override name = 'LogoutTokenError';
}

export type LogoutTokenVerifierOptions = {
  issuer: string;
  clientId: string;
  /** One-ID's signing keys: `createRemoteJWKSet(new URL(jwks_uri))` from the discovery document. */
  keys: JWTVerifyGetKey;
  /** The algorithms One-ID may sign with for this client (its id_token_signed_response_alg). */
  algorithms?: string[];
  /** How old a token may be (its `iat`), in seconds; One-ID's logout tokens live 120 s. */
  maxAgeSeconds?: number;
};

/**
 * Returns a function that verifies a `logout_token` and returns whom to sign out. It checks the
 * signature against One-ID's JWKS, `iss`, `aud`, `iat`/`exp`, the `events` claim, that `sub`
 * or `sid` is present, that there is no `nonce`, and that `jti` was not seen before (replay).
 */
export const createLogoutTokenVerifier = ({
  issuer,
  clientId,
  keys,
  algorithms = ['ES256', 'RS256'],
  maxAgeSeconds = 120,
}: LogoutTokenVerifierOptions) => {
  // jti -> expiry (ms). Tokens expire after two minutes, so this stays small.
  const seen = new Map<string, number>();

  return async (logoutToken: string): Promise<LogoutToken> => {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(logoutToken, keys, {
        issuer,
        audience: clientId,
        algorithms,
        // Back-Channel Logout 2.4: logout tokens are explicitly typed.
        typ: 'logout+jwt',
        requiredClaims: ['iat', 'jti', 'events'],
        maxTokenAge: maxAgeSeconds,
        clockTolerance: 30,
      }));
    } catch (error) {
      const message =
        error instanceof errors.JOSEError ? `${error.code}: ${error.message}` : String(error);
      throw new LogoutTokenError(message);
    }
    const events = payload.events as Record<string, unknown> | undefined;
    const event =
      events && typeof events === 'object' ? events[BACKCHANNEL_LOGOUT_EVENT] : undefined;
    if (!event || typeof event !== 'object' || Array.isArray(event))
      throw new LogoutTokenError(
        `events: must contain ${BACKCHANNEL_LOGOUT_EVENT} with an object value`,
      );
    if ('nonce' in payload)
      throw new LogoutTokenError(
        'nonce: a logout token must not contain one (it would be an ID token)',
      );
    const sub = typeof payload.sub === 'string' ? payload.sub : undefined;
    const sid = typeof payload.sid === 'string' ? payload.sid : undefined;
    if (!sub && !sid) throw new LogoutTokenError('sub or sid: one is required');
    const jti = String(payload.jti);
    const now = Date.now();
    for (const [id, expires] of seen) if (expires < now) seen.delete(id);
    if (seen.has(jti)) throw new LogoutTokenError('jti: this logout token was already used');
    seen.set(jti, now + (maxAgeSeconds + 60) * 1000);
    return { sub, sid, jti };
  };
};

export type LogoutTokenVerifier = ReturnType<typeof createLogoutTokenVerifier>;
