// Composition root: the stores, then each domain, then the OIDC engine, then HTTP, built in
// order and wired. Each module builds its own parts and reads its own settings from `config`.
import type { Logger } from 'pino';
import { createAccountService } from './accounts/index.ts';
import { createAdminModule } from './admin/index.ts';
import { createAuditService, withAuditKeys } from './audit/index.ts';
import { createAuthModule } from './auth/index.ts';
import { createClientsModule } from './clients/index.ts';
import type { Config } from './config/index.ts';
import {
  createCatalogueService,
  createConsentEnding,
  createConsentModule,
} from './consent/index.ts';
import { createFederationModule } from './federation/index.ts';
import { createHttpModule, createHttpPages } from './http/index.ts';
import { createMetrics } from './observability/index.ts';
import { createEngineKeys, createEngineMetadataCheck, createOidcModule } from './oidc/index.ts';
import { createSessionsModule } from './sessions/index.ts';
import { createLogger, createOutboundFetch, systemClock } from './shared/index.ts';
import { openStores } from './store/index.ts';

/** `passkeyChallengeTtlSeconds` shortens the 300 s WebAuthn challenge lifetime (tests only). */
export type AppOptions = {
  logger?: Logger;
  keyReloadSeconds?: number;
  passkeyChallengeTtlSeconds?: number;
};

export const createApp = async (config: Config, options: AppOptions = {}) => {
  const { issuer } = config;
  const { keyReloadSeconds, passkeyChallengeTtlSeconds } = options;
  const log = options.logger ?? createLogger(config.logLevel);
  const metrics = createMetrics();
  const stores = await openStores(config, log);
  const { secrets, kv, feed, secretBox } = stores;
  // Every audit record written through this handle is keyed with AUDIT_KEYS (audit-service.ts).
  const knex = withAuditKeys(stores.knex, secrets.auditKeys);
  const audit = createAuditService({ knex });
  const clock = systemClock;
  // One-ID's own outgoing requests (claim sources, upstreams) keep the SSRF guard the engine has.
  const fetch = createOutboundFetch(config.outboundPrivateHosts);
  /** What most modules take: each one's Deps type names the parts it uses. */
  const core = { config, issuer, log, metrics, knex, clock, kv, feed, secretBox, fetch, audit };

  const accounts = createAccountService(core);
  const catalogue = createCatalogueService(core);
  await catalogue.seed();
  const clients = await createClientsModule({
    ...core,
    claims: catalogue.list,
    mirror: stores.sharedKv,
    engineCheck: createEngineMetadataCheck(issuer),
  });
  const domain = { ...core, accounts, clients, catalogue };
  const auth = createAuthModule({ ...domain, secrets, passkeyChallengeTtlSeconds });
  // Federation: upstream identity providers and agency account links (docs/federation.md).
  const federation = createFederationModule(domain);
  const keys = await createEngineKeys(core);
  // The one cycle: citizens' sessions and the engine's store use each other at run time (a session
  // save is recorded through the sessions service, which ends sessions in the store). Sessions are
  // built after the engine, so the engine's store and administration (a disabled client is signed
  // out everywhere) are given this getter, which they call only when they run.
  const sessionsLater = () => sessions;
  const admin = createAdminModule({ ...domain, sessions: sessionsLater });
  const consent = createConsentModule({ ...domain, signer: keys.signer });
  const pages = createHttpPages({ ...core, secrets });
  /** What the engine and the HTTP layer are built from (their Deps name the parts they use). */
  const modules = { ...domain, stores, keys, auth, federation, admin, consent, pages };
  const oidc = await createOidcModule({ ...modules, sessions: sessionsLater, keyReloadSeconds });
  const sessions = createSessionsModule({ ...domain, engine: oidc });
  // Withdrawal and expiry end a consent the same way (src/consent/consent-ending.ts).
  const consentEnding = createConsentEnding({ ...core, consent, sessions, engine: oidc });
  const http = createHttpModule({ ...modules, oidc, sessions, consentEnding });
  // Background work: sessions' sweeps and logout tokens, consent expiry, source events.
  const background = [sessions, consentEnding, consent.worker];
  for (const job of background) job.start();

  // The domain services, by name (tests and the bench call them through `app.services`).
  const services = { audit, accounts, clients, catalogue, consent, sessions, federation, admin };
  const { passkeys, enrolment, certificates } = auth;
  return {
    config,
    log,
    knex,
    kv,
    metrics,
    services: { ...services, passkeys, enrolment, certificates, signingKeys: keys.service },
    provider: oidc.provider,
    reloadKeys: oidc.reload,
    oidcStore: oidc.store,
    http: http.app,
    listen: http.listen,
    drain: http.drain,
    /** Graceful stop: no new connections, in-flight requests finish, then pools close. */
    async close() {
      oidc.close();
      await http.close();
      // Deliveries in flight finish (each bounded by BACKCHANNEL_TIMEOUT_MS); queued ones wait in the database.
      for (const job of background) await job.stop();
      await stores.close();
    },
  };
};

export type App = Awaited<ReturnType<typeof createApp>>;
