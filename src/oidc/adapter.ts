// Storage for the engine: clients come from the database (managed by One-ID's client service);
// every other model lives in Redis (production, shared by all instances) or in process memory
// (the embedded single-process default).
import type { Adapter, AdapterConstructor, AdapterPayload } from 'oidc-provider';
import type { ClientService } from '../clients/index.ts';
import { createMemoryAdapter } from './adapter-memory.ts';
import { createRedisAdapter, type RedisClient } from './adapter-redis.ts';
import type { RegistrationStore } from './admin-engine.ts';

/**
 * Registered clients come from the client service; the engine writes only through dynamic
 * registration (RFC 7591/7592), whose store sends it back to the client service.
 */
const clientAdapter = (clients: ClientService, registrations?: RegistrationStore) =>
  class ClientAdapter implements Adapter {
    async find(id: string) {
      // A NUL can never be in a client id, and PostgreSQL would refuse the query.
      if (id.includes('\u0000')) return undefined;
      return (await clients.engineMetadata(id)) as AdapterPayload | undefined;
    }
    async upsert(id: string, payload: AdapterPayload) {
      if (!registrations) throw new Error('clients are registered through the client service');
      await registrations.upsertClient(id, payload);
    }
    async findByUid() { return undefined; }
    async findByUserCode() { return undefined; }
    async consume() {}
    async destroy(id: string) {
      await registrations?.destroyClient(id);
    }
    async revokeByGrantId() {}
  };

export const createOidcAdapter = ({ redis, clients, registrations }: { redis: RedisClient | undefined; clients: ClientService; registrations?: RegistrationStore | undefined }) => {
  const store = redis ? createRedisAdapter(redis, { prefix: 'oidc:' }) : createMemoryAdapter();
  const Clients = clientAdapter(clients, registrations);
  const Adapter = function (this: unknown, name: string) {
    if (name === 'Client') return new Clients();
    // Dynamic registration's tokens live in the database (src/admin/dcr-repo.ts).
    const Model = registrations?.models[name];
    return Model ? new Model() : new store.Adapter(name);
  } as unknown as AdapterConstructor;
  return { Adapter, listSessionIds: store.listSessionIds.bind(store), close: undefined as undefined | (() => void) };
};
