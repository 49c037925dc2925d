// Composition root: store, then each domain, then the OIDC engine, then HTTP.
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import { createAccountService } from './accounts/index.ts';
import { createAdminModule } from './admin/index.ts';
import { createAuditService, withAuditKeys } from './audit/index.ts';
import { createEnrolmentService } from './auth/index.ts';
import { createPasskeyService } from './auth/passkey/index.ts';
import { createCertificateModule, createRecoveryService } from './auth/certificate/index.ts';
import {
  ADMIN_API_CLIENT_ID,
  ADMIN_CLIENT_ID,
  createClientCache,
  createClientService,
  createSystemDirectory,
  requiresFapi2,
} from './clients/index.ts';
import { createFederationModule } from './federation/index.ts';
import type { Config } from './config/index.ts';
import {
  createCatalogueService,
  createConsentService,
  createMyDataService,
  createSecurityEventSender,
  createSourceEvents,
  sourceEventQueue,
} from './consent/index.ts';
import { createCsrf } from './http/middleware/csrf.ts';
import { ACCOUNT_CLIENT_ID, createAccountSession } from './http/account/account-session.ts';
import { createEnginePages } from './http/sign-in/engine-pages.ts';
import { createCertificateListener } from './http/sign-in/certificate-listener.ts';
import { createHttpApp } from './http/server.ts';
import { adminSessionCookie, createConsoleSession } from './http/admin/console/session.ts';
import { createRateLimits } from './http/rate-limit/limiter.ts';
import { createUnavailablePage } from './http/middleware/unavailable.ts';
import { trackRequests } from './http/middleware/graceful-stop.ts';
import { limitSlowClients } from './http/middleware/slow-clients.ts';
import { startMetricsServer } from './http/middleware/metrics.ts';
import { createMetrics, observeProvider } from './observability/index.ts';
import { createViews } from './http/render/views.ts';
import { createOidcAdapter } from './oidc/storage/engine-adapter.ts';
import { createRegistrationStore, type AdminEngine } from './oidc/admin-engine.ts';
import { createEngineMetadataCheck } from './oidc/client-check.ts';
import { createLogoutTokenSender } from './oidc/backchannel-queue.ts';
import { createSessionEngine } from './oidc/session-engine.ts';
import { createSessionTracking } from './oidc/storage/session-mirror.ts';
import { createDeliveryWorker, createSessionsModule } from './sessions/index.ts';
import { createProvider, engineCookieNames } from './oidc/provider.ts';
import { createClaimSources, type ClaimSourceSigner } from './oidc/claim-sources.ts';
import { importJWK, type CryptoKey } from 'jose';
import { createSigningKeyService } from './oidc/signing-keys.ts';
import {
  createKeyedHash,
  createLogger,
  createOutboundFetch,
  createSecretBox,
  systemClock,
} from './shared/index.ts';
import {
  connectRedis,
  createMemoryKv,
  createDatabaseChangeFeed,
  createRedisChangeFeed,
  createRedisKv,
  migrateLatest,
  openDatabase,
  resolveSecrets,
  withHashedKeys,
} from './store/index.ts';

/** `passkeyChallengeTtlSeconds` shortens the 300 s WebAuthn challenge lifetime (tests only). */
export type AppOptions = {
  logger?: Logger;
  keyReloadSeconds?: number;
  passkeyChallengeTtlSeconds?: number;
};

export const createApp = async (config: Config, options: AppOptions = {}) => {
  const log = options.logger ?? createLogger(config.logLevel);
  const { secrets, generated } = resolveSecrets(config);
  if (generated.length)
    log.warn(
      { generated, dataDir: config.dataDir },
      'development secrets generated and kept under DATA_DIR; set them in the environment for production',
    );

  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  const metrics = createMetrics();
  const redis = config.redis ? connectRedis(config.redis, log) : undefined;
  try {
    await migrateLatest(db.knex);
  } catch (error) {
    await db.close();
    redis?.disconnect();
    throw error;
  }
  // Every audit record written through this handle is keyed with AUDIT_KEYS (audit-service.ts).
  const knex = withAuditKeys(db.knex, secrets.auditKeys);
  // Every Redis key starts with REDIS_KEY_PREFIX; bearer values are stored under keyed hashes.
  const hashId = createKeyedHash(secrets.pairwiseSalt, 'stored-ids');
  const kv = withHashedKeys(
    redis ? createRedisKv(redis, `${config.redisKeyPrefix}kv:`) : createMemoryKv(),
    hashId,
  );
  // Read-mostly data cached per instance is dropped on every instance when it changes (Redis
  // pub/sub; on the embedded default, the database's notifications).
  const feed = redis
    ? createRedisChangeFeed(redis, config.issuer)
    : db.kind === 'embedded'
      ? createDatabaseChangeFeed(db.knex, db)
      : undefined;
  const clock = systemClock;
  const secretBox = createSecretBox(secrets.keyEncryptionKeys);
  const issuerUrl = new URL(config.issuer);

  const audit = createAuditService({ knex });
  const accounts = createAccountService({
    knex,
    clock,
    enrolmentTtlSeconds: config.enrolmentTtlSeconds,
    issuer: config.issuer,
    feed,
  });
  const catalogue = createCatalogueService({ knex });
  await catalogue.seed();
  // The engine reads a client on every request: cached per instance, valid until any change (client-cache.ts).
  const clientCache = createClientCache({ knex, mirror: redis ? kv : undefined, feed });
  const clients = createClientService({
    knex,
    secretBox,
    clock,
    secretGraceSeconds: config.clientSecretGraceSeconds,
    knownClaims: async () => new Set((await catalogue.list()).map((i) => i.name)),
    // Sensitive and agency-held items are for fapi2 clients only (clients/security-profile.ts).
    protectedClaims: async () =>
      new Set((await catalogue.list()).filter(requiresFapi2).map((i) => i.name)),
    cache: clientCache,
    engineCheck: createEngineMetadataCheck(config.issuer),
  });
  /** A client's agency (cached like the client): the pages name it, and pairwise subjects are per agency. */
  const agencyOf = (clientId: string) =>
    clientCache.get('agency', clientId, async () => (await clients.find(clientId))?.agency);
  // Consent is evaluated against the catalogue the engine was built with (its scopes and claims
  // come from it), re-read whenever the engine is rebuilt: not one query per authorization.
  let engineCatalogue: ReturnType<typeof catalogue.list> | undefined;
  const catalogueOfEngine = {
    ...catalogue,
    list: () =>
      (engineCatalogue ??= catalogue.list().catch((error: unknown) => {
        engineCatalogue = undefined;
        throw error;
      })),
  };
  const consent = createConsentService({
    knex,
    clock,
    clients,
    catalogue: catalogueOfEngine,
    maxAgeDays: config.consentMaxAgeDays,
  });
  const passkeys = createPasskeyService({
    knex,
    kv,
    clock,
    rpId: issuerUrl.hostname,
    rpName: 'One-ID',
    origin: issuerUrl.origin,
    decoySecret: secrets.pairwiseSalt,
    challengeTtlSeconds: options.passkeyChallengeTtlSeconds,
  });
  const enrolment = createEnrolmentService({ knex, accounts, passkeys });
  // Certificate login: on only with CERT_TRUST_ANCHORS (docs/certificates.md).
  const certSettings = config.certificates;
  const certificates = certSettings.trustAnchorsPath
    ? createCertificateModule({
        settings: { ...certSettings, trustAnchorsPath: certSettings.trustAnchorsPath },
        issuer: config.issuer,
        trustedProxies: config.trustedProxies,
        knex,
        kv,
        clock,
        accounts,
        passkeys,
      })
    : undefined;
  if (certificates && certSettings.revocationFailOpen)
    log.warn(
      'CERT_REVOCATION_FAIL_OPEN=true: certificates whose revocation status cannot be obtained are accepted (audited as revocation "unknown")',
    );
  // One-ID's own outgoing requests (claim sources, upstreams) keep the SSRF guard the engine has.
  const outboundFetch = createOutboundFetch(config.outboundPrivateHosts);
  // Federation: upstream identity providers and agency account links (docs/federation.md).
  const federation = createFederationModule({
    knex,
    kv,
    clock,
    secretBox,
    accounts,
    clients,
    issuer: config.issuer,
    timeoutMs: config.federationTimeoutMs,
    fetch: outboundFetch,
    log,
    feed,
  });
  const signingKeys = createSigningKeyService({
    knex,
    secretBox,
    clock,
    activationDelaySeconds: config.keyActivationDelaySeconds,
  });
  await signingKeys.ensureKeys();
  await signingKeys.activateDue();

  await clients.ensureFirstPartyClient(ACCOUNT_CLIENT_ID, {
    client_name: 'My One-ID',
    redirect_uris: [`${config.issuer}/account/callback`],
    post_logout_redirect_uris: [`${config.issuer}/account/signed-out`],
  });
  // Administration (docs/admin.md): the console and administrators' scripts sign in through One-ID.
  await clients.ensureFirstPartyClient(ADMIN_CLIENT_ID, {
    client_name: 'One-ID 관리 콘솔 (Admin console)',
    redirect_uris: [`${config.issuer}/admin/callback`],
  });
  await clients.ensureFirstPartyClient(ADMIN_API_CLIENT_ID, {
    client_name: 'One-ID admin API',
    redirect_uris: ['http://127.0.0.1/callback'],
    application_type: 'native',
  });
  const admin = createAdminModule({
    knex,
    accounts,
    clients,
    audit,
    clock,
    reauthSeconds: config.admin.reauthSeconds,
    minAcr: config.admin.minAcr,
    // A disabled or deleted client is signed out of every citizen's session (back-channel logout).
    onClientDisabled: async (clientId, actor) =>
      void (await sessions.service.logoutClientEverywhere?.(clientId, 'client_disabled', {
        actor,
      })),
  });
  const adminEngine: AdminEngine = {
    audience: `${config.issuer}/admin/api`,
    scopesFor: admin.admins.apiScopesFor,
    previousSecretMatches: clients.matchesPreviousSecret,
    dcr: config.admin.dcrEnabled ? admin.dcr : undefined,
  };

  const https = issuerUrl.protocol === 'https:';
  // CSRF tokens are bound to the session the request acts for (src/http/middleware/csrf.ts).
  const csrf = createCsrf({
    key: secrets.cookieKeys[0]!,
    secure: https,
    sessionCookies: {
      admin: adminSessionCookie(https),
      session: engineCookieNames(https).session,
      interaction: engineCookieNames(https).interaction,
    },
  });
  const views = createViews({ csrfToken: csrf.token, site: config.site });
  const oidcStore = createOidcAdapter({
    redis,
    prefix: config.redisKeyPrefix,
    hashId,
    clients,
    registrations: adminEngine.dcr && createRegistrationStore(adminEngine.dcr),
  });
  // Citizens' sessions kept durably (src/sessions): mirrored from the engine's session saves,
  // ended by logout, My One-ID, administrators and timeouts; logout tokens go through a queue.
  const tracking = createSessionTracking({
    sessions: () => sessions.service,
    Store: oidcStore.Adapter,
    log,
  });
  // Requests to other agencies' claims endpoints, and the events telling them to refuse a
  // distributed token, are signed with One-ID's current ES256 key.
  let claimSigner: Promise<ClaimSourceSigner> | undefined;
  const currentSigner = () =>
    (claimSigner ??= signingKeys.engineJwks().then(async ({ keys }) => {
      const jwk = keys.find((k) => k.alg === 'ES256')!;
      return { key: (await importJWK(jwk, 'ES256')) as CryptoKey, kid: jwk.kid!, alg: 'ES256' };
    }));
  // A withdrawal reaches the sources of the distributed tokens the client holds (RFC 8417 SETs
  // pushed through the same durable queue worker as back-channel logout).
  const sourceEventWorker = createDeliveryWorker({
    knex,
    clock,
    issuer: config.issuer,
    queue: sourceEventQueue,
    send: createSecurityEventSender({
      issuer: config.issuer,
      signer: currentSigner,
      fetch: outboundFetch,
      timeoutMs: config.backchannel.timeoutMs,
    }),
    settings: config.backchannel,
    log,
  });
  const sourceEvents = createSourceEvents({
    knex,
    clock,
    issuer: config.issuer,
    onQueued: () => sourceEventWorker.kick(),
  });
  const sessions = createSessionsModule({
    knex,
    clock,
    issuer: config.issuer,
    clients,
    log,
    settings: { backchannel: config.backchannel, sweepSeconds: config.sessionSweepSeconds },
    engine: createSessionEngine({ Adapter: oidcStore.Adapter, TrackedAdapter: tracking.Adapter }),
    send: createLogoutTokenSender({ provider: () => provider, clients }),
    onDelivery: (outcome) => metrics.recordBackchannelDelivery(outcome),
    ephemeralStore: !redis,
    // An expired consent stops the data as a withdrawal does: its grants (tokens) revoked, its system told.
    alsoSweep: async () => {
      for (;;) {
        const expired = await consent.expireDue();
        for (const c of expired) {
          await sessions.service.logoutClient(c.accountId, c.clientId, 'consent_expired', {
            grantIds: c.grantIds,
            actor: 'system',
          });
          await sourceEvents.revoke(c.accountId, c.clientId, 'consent_expired');
        }
        if (expired.length < 100) break;
      }
      await sourceEvents.forgetOld();
    },
  });
  // Each build is observed: its route names, issued tokens and errors reach the log and metrics.
  const claimSources = createClaimSources({
    issuer: config.issuer,
    signer: currentSigner,
    timeoutMs: config.claimSourceTimeoutMs,
    log,
    fetch: outboundFetch,
    remember: sourceEvents.remember,
  });
  // Client certificates (RFC 8705): on the certificate listener, or forwarded by the trusted proxy.
  const certListenerOrigin =
    certificates && certSettings.loginPort && certSettings.tlsCert && certSettings.tlsKey
      ? `https://${issuerUrl.hostname}:${certSettings.loginPort}`
      : undefined;
  const clientCertificates = {
    listenerOrigin: certListenerOrigin,
    trustedProxies: config.trustedProxies,
    header: certSettings.header,
    headerFormat: certSettings.headerFormat,
  };
  const buildProvider = async () => {
    claimSigner = undefined;
    engineCatalogue = undefined;
    return tracking.install(
      observeProvider(
        createProvider({
          issuer: config.issuer,
          adapter: oidcStore.forEngine(tracking.Adapter),
          claimSources,
          jwks: await signingKeys.engineJwks(),
          cookieKeys: secrets.cookieKeys,
          pairwiseSalt: secrets.pairwiseSalt,
          agencyOf,
          accounts,
          clientTokensNotBefore: clients.tokensNotBefore,
          pages: {
            ...createEnginePages(views, {
              signedOutSystems: tracking.signedOutSystems,
              currentSystems: tracking.currentSystems,
            }),
            unavailable: createUnavailablePage(views),
          },
          outboundPrivateHosts: config.outboundPrivateHosts,
          sessionAbsoluteSeconds: config.sessionAbsoluteSeconds,
          sessionIdleSeconds: config.sessionIdleSeconds,
          proxy: config.trustedProxies.length > 0,
          consent,
          catalogue: await catalogueOfEngine.list(),
          federation: federation.engineHooks,
          admin: adminEngine,
          clientCertificates,
        }),
        { metrics, log },
      ),
    );
  };
  let provider: Provider = await buildProvider();
  sessions.start();
  sourceEventWorker.start();
  // Keys and the claims catalogue shape the engine's configuration: rebuild it when either changes.
  const engineVersion = async () => `${await signingKeys.version()}#${await catalogue.version()}`;
  let keyVersion = await engineVersion();

  // A key rotated by the CLI or another instance is picked up within keyReloadSeconds: the
  // engine is rebuilt with the new key set (its state lives in the adapter, so nothing is lost).
  const reloadKeys = async () => {
    await signingKeys.activateDue();
    const version = await engineVersion();
    if (version === keyVersion) return false;
    provider = await buildProvider();
    keyVersion = version;
    log.info('signing keys or claims catalogue changed; provider reloaded');
    return true;
  };
  const keyTimer = setInterval(
    () => void reloadKeys().catch((err) => log.warn({ err }, 'key reload failed')),
    (options.keyReloadSeconds ?? 30) * 1000,
  );
  keyTimer.unref();

  const http = createHttpApp({
    provider: () => provider,
    passkeys,
    enrolment,
    agencyOf,
    accountSession: createAccountSession({
      provider: () => provider,
      issuer: config.issuer,
      secure: issuerUrl.protocol === 'https:',
      lifetimes: {
        idleSeconds: config.sessionIdleSeconds,
        absoluteSeconds: config.sessionAbsoluteSeconds,
      },
    }),
    accounts,
    consent,
    myData: createMyDataService({ consent, clients, catalogue, audit }),
    federation,
    sessions: sessions.service,
    // The withdrawal route revokes the consent's grants; this signs the client out of live
    // sessions and tells the sources of its distributed tokens to refuse them.
    onConsentWithdrawn: async (accountId, clientId) => {
      await sessions.service.logoutClient(accountId, clientId, 'consent_withdrawn', {
        actor: `account:${accountId}`,
      });
      await sourceEvents.revoke(accountId, clientId, 'consent_withdrawn');
    },
    views,
    csrf,
    admin: {
      admin,
      session: createConsoleSession({
        provider: () => provider,
        issuer: config.issuer,
        kv,
        secure: issuerUrl.protocol === 'https:',
        settings: config.admin,
        admins: admin.admins,
        audit,
      }),
      settings: config.admin,
      issuer: config.issuer,
      audience: adminEngine.audience,
      accountName: async (accountId) => (await accounts.findById(accountId))?.name,
      claims: catalogue.list,
    },
    log,
    metrics,
    metricsPublic: config.metrics.public,
    checks: { database: db.ping, ...(redis && { redis: kv.ping }) },
    stopping: () => requests?.draining() ?? false,
    https: issuerUrl.protocol === 'https:',
    issuer: config.issuer,
    proxy: config.trustedProxies.length > 0,
    trustedProxies: config.trustedProxies,
    // Shared by every instance through Redis when there is one; namespaced by REDIS_KEY_PREFIX.
    rateLimits: createRateLimits({
      config: config.rateLimits,
      redis,
      prefix: config.redisKeyPrefix,
    }),
    signInMethods: certificates?.recovery ?? createRecoveryService({ knex, passkeys }),
    directory: createSystemDirectory({ knex, issuer: config.issuer }),
    certificateLogin: certificates && {
      certificates: certificates.login,
      options: {
        tlsLoginUrl:
          certSettings.loginPort && certSettings.tlsCert && certSettings.tlsKey
            ? `https://${issuerUrl.hostname}:${certSettings.loginPort}/certificate/tls`
            : undefined,
        trustedProxies: config.trustedProxies,
        header: certSettings.header,
      },
    },
  });
  // The mutual-TLS listener (CERT_LOGIN_PORT + TLS_CERT + TLS_KEY): the only one asking for client certificates.
  const certListener =
    certificates && certSettings.loginPort && certSettings.tlsCert && certSettings.tlsKey
      ? createCertificateListener({
          certificates: certificates.login,
          issuer: config.issuer,
          origin: `https://${issuerUrl.hostname}:${certSettings.loginPort}`,
          // Client certificates at the engine's endpoints (mtls_endpoint_aliases, RFC 8705 5).
          engine: () => provider,
          tlsCert: readFileSync(certSettings.tlsCert),
          tlsKey: readFileSync(certSettings.tlsKey),
          trustAnchorsPem: certificates.trustAnchorsPem,
          views,
          log,
        })
      : undefined;

  let server: Server | undefined;
  let requests: ReturnType<typeof trackRequests> | undefined;
  let metricsServer: Server | undefined;
  return {
    config,
    log,
    knex,
    kv,
    metrics,
    services: {
      audit,
      accounts,
      clients,
      catalogue,
      consent,
      passkeys,
      enrolment,
      signingKeys,
      certificates,
      sessions: sessions.service,
      federation,
      admin,
    },
    sessions,
    sourceEvents: { ...sourceEvents, worker: sourceEventWorker },
    provider: () => provider,
    reloadKeys,
    listSessionIds: oidcStore.listSessionIds,
    oidcStore,
    http,
    /** Starts listening; resolves with the bound port (0 in config picks a free one). */
    listen: async (port = config.port, host = config.host) => {
      const bound = await new Promise<number>((resolve, reject) => {
        server = http.listen(port, host, () => {
          const address = server!.address();
          resolve(typeof address === 'object' && address ? address.port : port);
        });
        requests = trackRequests(server);
        // A client must send its whole request within 30 s and its headers within 15 s (slow senders).
        limitSlowClients(server);
        server.once('error', reject);
      });
      if (config.metrics.port !== undefined)
        metricsServer ??= await startMetricsServer(
          metrics,
          config.metrics.port,
          config.metrics.host,
        );
      if (certListener) await certListener.listen(certSettings.loginPort!, host);
      return bound;
    },
    /**
     * First step of a graceful stop (main.ts): /readyz answers 503 and connections are no longer
     * kept alive, while every request is still served. close() follows after the drain period.
     */
    drain: () => requests?.drain(),
    /** Graceful stop: no new connections, in-flight requests finish, then pools close. */
    async close() {
      clearInterval(keyTimer);
      await certListener?.close();
      // Keep-alive connections close as soon as their last request is answered; requests still
      // running after 10 s are cut, so pools close before main.ts's 15 s deadline (graceful-stop.ts).
      if (requests) await requests.stop(10_000);
      if (metricsServer) {
        metricsServer.close();
        metricsServer.closeAllConnections();
      }
      // Deliveries in flight finish (each bounded by BACKCHANNEL_TIMEOUT_MS); queued ones wait in the database.
      await sessions.stop();
      await sourceEventWorker.stop();
      await kv.close();
      feed?.close();
      oidcStore.close?.();
      if (redis) await redis.quit().catch(() => redis.disconnect());
      await db.close();
    },
  };
};

export type App = Awaited<ReturnType<typeof createApp>>;
