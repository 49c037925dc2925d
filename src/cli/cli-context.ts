// The services the CLI needs, on the same database the server uses (joining a running
// embedded server over its loopback socket rather than opening its files twice).
import { createAccountService, createImportService } from '../accounts/index.ts';
import { cliPrincipal, createAdminModule } from '../admin/index.ts';
import { appendAudit, createAuditService, withAuditKeys } from '../audit/index.ts';
import { createClientCache, createClientService, serverOffer } from '../clients/index.ts';
import { createUpstreamService, federationRedirectUri } from '../federation/index.ts';
import { createCatalogueService, createSourceEvents } from '../consent/index.ts';
import type { Config } from '../config/index.ts';
import { createEngineRedisStore } from '../oidc/storage/redis-adapter.ts';
import { createEngineMetadataCheck } from '../oidc/clients/client-check.ts';
import { createSessionEngine } from '../oidc/sessions/session-engine.ts';
import { createSessionTracking } from '../oidc/storage/session-mirror.ts';
import { createSigningKeyService } from '../oidc/keys/signing-keys.ts';
import { createSessionService, type SessionService } from '../sessions/index.ts';
import { createLogger, systemClock } from '../shared/index.ts';
import { openStores, resealAll } from '../store/index.ts';
import { cliActor } from './cli-actor.ts';

export const createCliContext = async (config: Config) => {
  // The audit actor of everything this process does: `cli:<os user>@<host>`.
  const actor = cliActor();
  // Logs go to stderr: stdout is the command's output alone (scripts read it).
  const log = createLogger(config.logLevel, process.stderr);
  // The servers' stores, opened as they open them (store-module.ts), so what the CLI writes is
  // laid out and hashed as they read it. A one-off command: a small pool that waits longer for a
  // busy server and a feed that only publishes.
  const stores = await openStores(config, log, {
    poolMax: 4,
    patient: true,
    subscribe: false,
  });
  const { secrets, secretBox, redis, feed } = stores;
  const knex = withAuditKeys(stores.knex, secrets.auditKeys);
  const clock = systemClock;
  const catalogue = createCatalogueService({ knex });
  await catalogue.seed();
  // Client changes must reach the servers' client caches: bumped in PostgreSQL, then published on
  // the change feed and, with Redis, as a fresh token in the shared key-value store.
  const clients = createClientService({
    knex,
    secretBox,
    clock,
    secretGraceSeconds: config.clientSecretGraceSeconds,
    knownClaims: async () => new Set((await catalogue.list()).map((i) => i.name)),
    cache: createClientCache({ knex, mirror: stores.sharedKv, feed }),
    engineCheck: createEngineMetadataCheck(config.issuer),
    // The servers' settings: the CLI refuses what they would not load.
    offer: serverOffer(config),
  });
  const accounts = createAccountService({ knex, clock, config, issuer: config.issuer });
  // With Redis the engine's store is shared, so ending a session here removes it from the store
  // at once, as a server would. Without Redis the store is in the server's memory: sessions are
  // marked ended and their tokens queued, and the server's purge sweep removes them within a second.
  const oidcStore = redis && createEngineRedisStore(redis, config.redisKeyPrefix);
  // eslint-disable-next-line prefer-const -- bound late: the tracking store and the service need each other
  let sessions: SessionService;
  const tracking =
    oidcStore &&
    createSessionTracking({
      sessions: () => sessions,
      Store: oidcStore.Adapter,
      log,
    });
  sessions = createSessionService({
    knex,
    clock,
    issuer: config.issuer,
    clients,
    engine:
      oidcStore &&
      tracking &&
      createSessionEngine({ Adapter: oidcStore.Adapter, TrackedAdapter: tracking.Adapter }),
  });
  const audit = createAuditService({ knex });
  return {
    /** Recorded as the actor of every change: `cli:<os user>@<host>` (cli-actor.ts). */
    actor,
    /** Administration as the operator: platform rights (they hold the database), `actor` above. */
    principal: cliPrincipal(actor),
    catalogue,
    accounts,
    clients,
    sessions,
    /** Tells claim sources to refuse the citizen's distributed tokens (the servers' workers push it). */
    sourceEvents: createSourceEvents({ knex, clock, issuer: config.issuer }),
    admin: createAdminModule({
      knex,
      accounts,
      clients,
      audit,
      clock,
      config,
      issuer: config.issuer,
      sessions: () => sessions,
    }),
    signingKeys: createSigningKeyService({
      knex,
      secretBox,
      clock,
      activationDelaySeconds: config.keyActivationDelaySeconds,
      // A revoked key is announced to the servers, which drop it from their JWKS at once.
      feed,
    }),
    audit,
    upstreams: createUpstreamService({ knex, secretBox, feed }),
    federationRedirectUri: federationRedirectUri(config.issuer),
    /** KEY_ENCRYPTION_KEYS rotation: every sealed secret re-sealed with the first key; audited in the same transaction. */
    resealSecrets: () =>
      knex.transaction(async (trx) => {
        const report = await resealAll(trx, secretBox);
        await appendAudit(trx, {
          action: 'secrets.resealed',
          actor,
          details: { columns: report },
        });
        return report;
      }),
    knex,
    config,
    /** Moving an existing portal's members in (accounts import, citizens enroll-link --legacy-id). */
    imports: createImportService({
      knex,
      clock,
      enrolmentTtlSeconds: config.enrolmentTtlSeconds,
      issuer: config.issuer,
      feed,
    }),
    close: stores.close,
  };
};

export type CliContext = Awaited<ReturnType<typeof createCliContext>>;
