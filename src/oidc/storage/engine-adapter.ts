// Storage for the engine, as one stack (createEngineAdapter): clients come from the database
// (managed by One-ID's client service); every other model lives in Redis (production, shared by
// all instances) or in process memory (the embedded single-process default).
import Provider, {
  errors,
  type Adapter,
  type AdapterConstructor,
  type AdapterPayload,
} from 'oidc-provider';
import type { Logger } from 'pino';
import type { SessionService } from '../../sessions/index.ts';
import type { ClientService } from '../../clients/index.ts';
import { createMemoryAdapter } from './memory-adapter.ts';
import { createEngineRedisStore, type RedisClient } from './redis-adapter.ts';
import { hashBearerIds } from './hashed-ids.ts';
import { PassThroughAdapter } from './pass-through.ts';
import type { RegistrationStore } from '../clients/admin-engine.ts';
import { createGrantRevoker } from '../sessions/grant-revocation.ts';
import { noteClientTokensNotBefore } from './request-clients.ts';
import { useEngineContext } from './request-memo.ts';
import { createSessionTracking } from './session-mirror.ts';
import { guardAdapter } from '../unavailable.ts';

/** A store adapter's atomic consume: true only for the one call that marked the record. */
type ConsumeOnce = Adapter & { consumeOnce(id: string): Promise<boolean> };

/**
 * Codes, refresh tokens and pushed authorization requests are single-use (RFC 6749 4.1.2,
 * RFC 9700 4.14.2, RFC 9126 4). The engine checks `consumed` and then consumes, so requests
 * presenting the same one at the same moment could all pass the check; the store's atomic
 * consume lets exactly one through. Any other is a reuse: for a code or refresh token the grant
 * is revoked (the winner's tokens too, as the engine does for a later reuse) and the request
 * refused with invalid_grant; a pushed request's other uses get invalid_request_uri.
 */
type Reuse = { revokes: boolean; refuse: () => Error };
const SINGLE_USE: Record<string, Reuse> = {
  AuthorizationCode: {
    revokes: true,
    refuse: () => new errors.InvalidGrant('authorization code already used'),
  },
  RefreshToken: {
    revokes: true,
    refuse: () => new errors.InvalidGrant('refresh token already used'),
  },
  PushedAuthorizationRequest: {
    revokes: false,
    refuse: () =>
      new errors.InvalidRequestUri('request_uri is invalid, expired, or was already used'),
  },
};

class SingleUse extends PassThroughAdapter<ConsumeOnce> {
  constructor(
    inner: ConsumeOnce,
    private readonly reuse: Reuse,
    private readonly revokeGrant: (grantId: string) => Promise<void>,
  ) {
    super(inner);
  }
  override async consume(id: string) {
    if (await this.inner.consumeOnce(id)) return;
    if (this.reuse.revokes) {
      const grantId = (await this.inner.find(id))?.grantId;
      if (typeof grantId === 'string') await this.revokeGrant(grantId);
    }
    throw this.reuse.refuse();
  }
}

/**
 * Registered clients come from the client service; the engine writes only through dynamic
 * registration (RFC 7591/7592), whose store sends it back to the client service.
 */
const clientAdapter = (clients: ClientService, registrations?: RegistrationStore) =>
  class ClientAdapter implements Adapter {
    async find(id: string) {
      // A NUL can never be in a client id, and PostgreSQL would refuse the query.
      if (id.includes('\u0000')) return undefined;
      const client = await clients.engineClient(id);
      if (client) noteClientTokensNotBefore(id, client.tokensNotBefore);
      return client?.metadata as AdapterPayload | undefined;
    }
    async upsert(id: string, payload: AdapterPayload) {
      if (!registrations) throw new TypeError('clients are registered through the client service');
      await registrations.upsertClient(id, payload);
    }
    async findByUid() {
      return undefined;
    }
    async findByUserCode() {
      return undefined;
    }
    async consume() {}
    async destroy(id: string) {
      await registrations?.destroyClient(id);
    }
    async revokeByGrantId() {}
  };

/**
 * The engine's storage, one stack from the store up (each layer wraps the one before it):
 *  1. the store: Redis (production, shared by all instances; reads ahead kept for the rest of the
 *     engine request, request-memo.ts) or process memory (the embedded single-process default);
 *  2. the models: clients from the database (dynamic registration's tokens too), and codes,
 *     refresh tokens and pushed requests single-use (SingleUse above): `Adapter`, with ids as
 *     stored, for code working on the store directly (sessions, grant revocation);
 *  3. the session mirror: each save of a signed-in session recorded durably first
 *     (session-mirror.ts; `sessions` is a getter: that service needs this stack's store);
 *  4. hashed ids: bearer credentials stored under a keyed hash of their value (hashed-ids.ts);
 *  5. the outage guard: PostgreSQL or Redis down is `temporarily_unavailable` (unavailable.ts).
 * `engine` is the top of the stack: what the provider is given.
 * `prefix` starts every Redis key (REDIS_KEY_PREFIX: one deployment's namespace).
 */
export const createEngineAdapter = ({
  redis,
  prefix,
  hashId,
  clients,
  registrations,
  sessions,
  log,
}: {
  redis: RedisClient | undefined;
  prefix: string;
  hashId: (id: string) => string;
  clients: ClientService;
  registrations?: RegistrationStore | undefined;
  sessions: () => SessionService;
  log: Logger;
}) => {
  // 1. The store; the Redis store's reads ahead live as long as the engine request that made them.
  useEngineContext(() => Provider.ctx);
  const store = redis ? createEngineRedisStore(redis, prefix) : createMemoryAdapter();
  // 2. The models.
  const Clients = clientAdapter(clients, registrations);
  const revokeGrant = createGrantRevoker(store.Adapter);
  const Adapter = function (this: unknown, name: string) {
    if (name === 'Client') return new Clients();
    // Dynamic registration's tokens live in the database (src/admin/dcr-repo.ts).
    const Model = registrations?.models[name];
    if (Model) return new Model();
    const reuse = SINGLE_USE[name];
    return reuse
      ? new SingleUse(new store.Adapter(name) as ConsumeOnce, reuse, revokeGrant)
      : new store.Adapter(name);
  } as unknown as AdapterConstructor;
  // 3. The session mirror.
  const tracking = createSessionTracking({ sessions, Store: Adapter, log });
  // 4. Hashed ids, 5. the outage guard.
  const engine = guardAdapter(hashBearerIds(tracking.Adapter, hashId));
  return {
    /** The store, with ids as stored: for code working on it directly (sessions, revocation). */
    Adapter,
    /** The whole stack: what the engine is given. */
    engine,
    /** The session mirror: its engine events (install) and the systems of a browser's session. */
    tracking,
    /** Stored ids of an account's live sessions (act on them through `Adapter`, not the engine). */
    listSessionIds: store.listSessionIds.bind(store),
    /** The in-process store's every key and value, as text (tests look for what must not be there). */
    dump: 'dump' in store ? (store.dump as () => string) : undefined,
    close: undefined as undefined | (() => void),
  };
};

export type EngineAdapter = ReturnType<typeof createEngineAdapter>;
