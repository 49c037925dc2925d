// Composition root: the stores, then each domain, then the OIDC engine, then HTTP, built in
// order and wired; every module builds its own parts (STYLE.md: one create<Domain>Module each).
import type { Logger } from 'pino';
import { createAccountService } from './accounts/index.ts';
import { createAdminModule } from './admin/index.ts';
import { createAuditService, withAuditKeys } from './audit/index.ts';
import { createAuthModule } from './auth/index.ts';
import { createClientsModule, serverOffer } from './clients/index.ts';
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
import { createLogger, createOutboundFetch, createSecretBox, systemClock } from './shared/index.ts';
import { openStores } from './store/index.ts';

/** `passkeyChallengeTtlSeconds` shortens the 300 s WebAuthn challenge lifetime (tests only). */
export type AppOptions = {
  logger?: Logger;
  keyReloadSeconds?: number;
  passkeyChallengeTtlSeconds?: number;
};

export const createApp = async (config: Config, options: AppOptions = {}) => {
  const { issuer } = config;
  const log = options.logger ?? createLogger(config.logLevel);
  const metrics = createMetrics();
  const stores = await openStores(config, log);
  const { secrets, kv, feed, redis } = stores;
  // Every audit record written through this handle is keyed with AUDIT_KEYS (audit-service.ts).
  const knex = withAuditKeys(stores.knex, secrets.auditKeys);
  const clock = systemClock;
  const secretBox = createSecretBox(secrets.keyEncryptionKeys);
  // One-ID's own outgoing requests (claim sources, upstreams) keep the SSRF guard the engine has.
  const fetch = createOutboundFetch(config.outboundPrivateHosts);
  const audit = createAuditService({ knex });
  /** What most modules take: each one's Deps type names the part it uses. */
  const core = { knex, clock, kv, feed, secretBox, fetch, log, issuer, audit };

  const accounts = createAccountService({
    ...core,
    enrolmentTtlSeconds: config.enrolmentTtlSeconds,
  });
  const catalogue = createCatalogueService(core);
  await catalogue.seed();
  const clientsModule = await createClientsModule({
    ...core,
    claims: catalogue.list,
    mirror: stores.sharedKv,
    secretGraceSeconds: config.clientSecretGraceSeconds,
    engineCheck: createEngineMetadataCheck(issuer),
    offer: serverOffer(config),
  });
  const domain = { ...core, accounts, clients: clientsModule.service };
  const auth = createAuthModule({
    ...domain,
    config,
    decoySecret: secrets.pairwiseSalt,
    challengeTtlSeconds: options.passkeyChallengeTtlSeconds,
  });
  // Federation: upstream identity providers and agency account links (docs/federation.md).
  const federation = createFederationModule({ ...domain, timeoutMs: config.federationTimeoutMs });
  const keys = await createEngineKeys({
    ...core,
    activationDelaySeconds: config.keyActivationDelaySeconds,
  });
  // The one cycle of the composition: citizens' sessions and the engine's store use each other
  // at run time (a session save is recorded through the sessions service; that service ends
  // sessions in the store, saving them again through the same mirror). Neither can be built
  // first, so the engine and administration (a disabled client is signed out everywhere) reach
  // the sessions service, built after the engine, when they run.
  const signOutEverywhere = async (clientId: string, actor: string) =>
    void (await sessions.service.logoutClientEverywhere(clientId, 'client_disabled', { actor }));
  const admin = createAdminModule({
    ...domain,
    settings: config.admin,
    onClientDisabled: signOutEverywhere,
  });
  const consent = createConsentModule({
    ...domain,
    catalogue,
    signer: keys.signer,
    maxAgeDays: config.consentMaxAgeDays,
    backchannel: config.backchannel,
  });
  const pages = createHttpPages({ issuer, cookieKey: secrets.cookieKeys[0]!, site: config.site });
  const oidc = await createOidcModule({
    ...domain,
    config,
    secrets,
    redis,
    metrics,
    keys,
    hashId: stores.hashId,
    agencyOf: clientsModule.agencyOf,
    consent: consent.consent,
    catalogue: consent.engineCatalogue,
    rememberIssued: consent.sourceEvents.remember,
    federation: federation.engineHooks,
    admin: admin.engine,
    pages: pages.engine,
    sessions: () => sessions.service,
    keyReloadSeconds: options.keyReloadSeconds,
    clientCertificateAuthority: auth.clientCertificateAuthority,
  });
  const sessions = createSessionsModule({
    ...domain,
    settings: { backchannel: config.backchannel, sweepSeconds: config.sessionSweepSeconds },
    engine: oidc.sessionEngine,
    send: oidc.sendLogoutToken,
    onDelivery: (outcome) => metrics.recordBackchannelDelivery(outcome),
    ephemeralStore: !redis,
  });
  // Withdrawal and expiry end a consent the same way (src/consent/consent-ending.ts).
  const consentEnding = createConsentEnding({
    consent: consent.consent,
    sourceEvents: consent.sourceEvents,
    log,
    revokeGrants: oidc.revokeGrants,
    signOut: sessions.service.logoutClient,
    sweepSeconds: config.sessionSweepSeconds,
  });
  const http = createHttpModule({
    config,
    log,
    accounts,
    audit,
    metrics,
    stores,
    pages,
    oidc,
    auth,
    clients: clientsModule,
    consent,
    consentEnding,
    sessions: sessions.service,
    federation,
    admin,
    claims: catalogue.list,
  });
  // Background work: sessions' sweeps and logout tokens, consent expiry, source events.
  const background = [sessions, consentEnding, consent.worker];
  for (const job of background) job.start();

  return {
    config,
    log,
    knex,
    kv,
    metrics,
    services: {
      audit,
      accounts,
      clients: clientsModule.service,
      catalogue,
      consent: consent.consent,
      passkeys: auth.passkeys,
      enrolment: auth.enrolment,
      signingKeys: keys.service,
      certificates: auth.certificates,
      sessions: sessions.service,
      federation,
      admin,
    },
    sessions,
    sourceEvents: { ...consent.sourceEvents, worker: consent.worker },
    provider: oidc.provider,
    reloadKeys: oidc.reload,
    listSessionIds: oidc.store.listSessionIds,
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
