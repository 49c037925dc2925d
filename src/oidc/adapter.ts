// Storage for the engine: clients come from the database (managed by One-ID's client service);
// every other model lives in Redis (production, shared by all instances) or in process memory
// (the embedded single-process default).
import type { Adapter, AdapterConstructor, AdapterPayload } from 'oidc-provider';
import type { ClientService } from '../clients/index.ts';
import { createMemoryAdapter } from './adapter-memory.ts';
import { createRedisAdapter, type RedisClient } from './adapter-redis.ts';

/** Read-only view of registered clients: registration goes through the client service. */
const clientAdapter = (clients: ClientService) =>
  class ClientAdapter implements Adapter {
    async find(id: string) {
      return (await clients.engineMetadata(id)) as AdapterPayload | undefined;
    }
    async upsert() {
      throw new Error('clients are registered through the client service');
    }
    async findByUid() { return undefined; }
    async findByUserCode() { return undefined; }
    async consume() {}
    async destroy() {}
    async revokeByGrantId() {}
  };

export const createOidcAdapter = ({ redis, clients }: { redis: RedisClient | undefined; clients: ClientService }) => {
  const store = redis ? createRedisAdapter(redis, { prefix: 'oidc:' }) : createMemoryAdapter();
  const Clients = clientAdapter(clients);
  const Adapter = function (this: unknown, name: string) {
    return name === 'Client' ? new Clients() : new store.Adapter(name);
  } as unknown as AdapterConstructor;
  return { Adapter, listSessionIds: store.listSessionIds.bind(store), close: undefined as undefined | (() => void) };
};
