// Bearer credentials are never stored under their own value: the engine's models whose id is
// a token (or a session cookie) are stored and looked up under an HMAC of the id, so a Redis
// replica, dump or backup (or the in-process store) holds no usable token (docs/security.md).
import Provider, {
  type Adapter,
  type AdapterConstructor,
  type AdapterPayload,
} from 'oidc-provider';
import { PassThroughAdapter } from './pass-through.ts';

// Models whose id is presented as a credential. Not here: Grant (its id opens nothing),
// Interaction (its id is in URLs and useless without the interaction cookie, signed with
// COOKIE_KEYS), ReplayDetection (already a hash), the database's Client and dynamic-registration
// tokens (src/admin/dcr-repo.ts hashes those itself).
const BEARER_MODELS: ReadonlySet<string> = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'ClientCredentials',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PushedAuthorizationRequest',
  'Session',
]);

/**
 * Wraps the store the engine uses: for bearer models, `id` is hashed on the way in, and the
 * stored payload's `jti` is the hashed id too (so code working on the store directly, such as
 * src/oidc/sessions/session-engine.ts, acts on stored ids). `find(id)` gives the engine back the raw id
 * it asked for; `findByUid` cannot (the stored payload has only the hash) and returns the
 * stored id, which the engine only reads. An Interaction's copy of its session's cookie value
 * is hashed as well. `Inner` must be the store level: never wrap twice. `keyedHash` is a keyed hash
 * (src/shared/keyed-hash.ts): without the key, nobody can plant a record for a token they chose.
 */
export const hashBearerIds = (
  Inner: AdapterConstructor,
  keyedHash: (id: string) => string,
): AdapterConstructor => {
  const hash = hashOncePerRequest(keyedHash);
  return function (this: unknown, name: string) {
    const inner = new Inner(name);
    if (name === 'Interaction') return new InteractionAdapter(inner, hash);
    return BEARER_MODELS.has(name) ? new HashedIdAdapter(inner, hash) : inner;
  } as unknown as AdapterConstructor;
};

/**
 * Introspection and revocation look the presented token up under every token model at once
 * (AccessToken, ClientCredentials, RefreshToken): its keyed hash is computed once per engine
 * request. Only values of the same request are ever compared; nothing outlives the request.
 */
const hashOncePerRequest = (hash: (id: string) => string) => {
  const last = new WeakMap<object, { id: string; stored: string }>();
  return (id: string) => {
    // The engine's request (oidc-provider runs each inside an AsyncLocalStorage context).
    const request = Provider.ctx;
    if (!request) return hash(id);
    const kept = last.get(request);
    if (kept?.id === id) return kept.stored;
    const stored = hash(id);
    last.set(request, { id, stored });
    return stored;
  };
};

class HashedIdAdapter extends PassThroughAdapter {
  constructor(
    inner: Adapter,
    private readonly hash: (id: string) => string,
  ) {
    super(inner);
  }
  override upsert(id: string, payload: AdapterPayload, expiresIn: number) {
    const stored = this.hash(id);
    return this.inner.upsert(stored, { ...payload, jti: stored }, expiresIn);
  }
  override async find(id: string) {
    const payload = await this.inner.find(this.hash(id));
    return payload && { ...payload, jti: id };
  }
  override consume(id: string) {
    return this.inner.consume(this.hash(id));
  }
  override destroy(id: string) {
    return this.inner.destroy(this.hash(id));
  }
}

// The engine records the session's cookie value in the interaction (it never reads it back).
class InteractionAdapter extends PassThroughAdapter {
  constructor(
    inner: Adapter,
    private readonly hash: (id: string) => string,
  ) {
    super(inner);
  }
  override upsert(id: string, payload: AdapterPayload, expiresIn: number) {
    const session = payload.session as { cookie?: string } | undefined;
    return this.inner.upsert(
      id,
      session?.cookie
        ? { ...payload, session: { ...session, cookie: this.hash(session.cookie) } }
        : payload,
      expiresIn,
    );
  }
}
