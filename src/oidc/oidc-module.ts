// The OIDC engine as one module: its storage, its keys, the provider built from them (rebuilt
// when the keys or the claims catalogue change), and the facade the HTTP layer uses.
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import type { AccountService } from '../accounts/index.ts';
import type { AdminModule } from '../admin/index.ts';
import type { AuthModule } from '../auth/index.ts';
import type { ClientsModule } from '../clients/index.ts';
import type { Config } from '../config/index.ts';
import type { ConsentModule } from '../consent/index.ts';
import type { FederationModule } from '../federation/index.ts';
import type { Metrics } from '../observability/index.ts';
import type { SessionService } from '../sessions/index.ts';
import type { OutboundFetch } from '../shared/index.ts';
import type { Stores } from '../store/index.ts';
import { createRegistrationStore } from './clients/admin-engine.ts';
import { createLogoutTokenSender } from './sessions/backchannel-queue.ts';
import { createClaimSources } from './claims/claim-sources.ts';
import { observeProvider } from './engine-events.ts';
import type { EngineKeys } from './keys/engine-keys.ts';
import { SIGNING_KEYS_TOPIC } from './keys/signing-keys.ts';
import { createEngineLookups } from './engine-lookups.ts';
import type { EngineApp, EnginePages } from './engine-types.ts';
import { createGrantsRevoker } from './sessions/grant-revocation.ts';
import { createInteractions } from './interactions.ts';
import { createProvider } from './provider.ts';
import { DEFAULT_KEY_RELOAD_SECONDS, metadataCacheControl } from './metadata-caching.ts';
import { createSessionEngine } from './sessions/session-engine.ts';
import { createEngineAdapter } from './storage/engine-adapter.ts';

/** What the engine is built from: each module below it, by the part it uses. */
type Deps = {
  config: Config;
  /**
   * COOKIE_KEYS, PAIRWISE_SALT, Redis, `hashId` (keys bearer credentials' ids, hashed-ids.ts), and
   * the change feed a revoked signing key is announced on.
   */
  stores: Pick<Stores, 'secrets' | 'redis' | 'hashId' | 'feed'>;
  log: Logger;
  metrics: Metrics;
  keys: EngineKeys;
  /** The client service and a client's agency. */
  clients: ClientsModule;
  accounts: AccountService;
  /**
   * The consent service, the catalogue the engine is built with (its scopes and claims), and the
   * distributed tokens' store (a token is remembered before it is handed out, source-events.ts).
   */
  consent: ConsentModule;
  fetch: OutboundFetch;
  federation: Pick<FederationModule, 'engineHooks'>;
  admin: Pick<AdminModule, 'engine'>;
  /** RFC 8705 2.1 tls_client_auth: the agency CAs (CLIENT_CERT_TRUST_ANCHORS), when set. */
  auth: Pick<AuthModule, 'clientCertificateAuthority'>;
  /** The engine's own pages (src/http/sign-in/engine-pages.ts). */
  pages: { engine: EnginePages };
  /**
   * The durable session records the engine's session saves are mirrored to. A getter: that
   * service needs this module's session engine (the one cycle of the composition).
   */
  sessions: () => SessionService;
  /** How often a key rotated elsewhere is looked for (seconds; 30 by default). */
  keyReloadSeconds?: number | undefined;
};

export const createOidcModule = async (deps: Deps) => {
  const { config, log, keys, stores } = deps;
  const reloadSeconds = deps.keyReloadSeconds ?? DEFAULT_KEY_RELOAD_SECONDS;
  // The JWKS may be cached only for less than a rotated key waits before it signs.
  const cacheControl = metadataCacheControl({
    activationDelaySeconds: config.keyActivationDelaySeconds,
    reloadSeconds,
  });
  const catalogue = deps.consent.engineCatalogue;
  // The engine's storage, its whole stack in one place (storage/engine-adapter.ts). Citizens'
  // sessions are mirrored durably (src/sessions) from the engine's session saves.
  const store = createEngineAdapter({
    redis: stores.redis,
    prefix: config.redisKeyPrefix,
    hashId: stores.hashId,
    clients: deps.clients,
    registrations: deps.admin.engine.dcr && createRegistrationStore(deps.admin.engine.dcr),
    sessions: deps.sessions,
    log,
  });
  const { tracking } = store;
  // Requests to other agencies' claims endpoints carry One-ID's signed request (claim-sources.ts).
  const claimSources = createClaimSources({
    issuer: config.issuer,
    signer: keys.signer,
    timeoutMs: config.claimSourceTimeoutMs,
    log,
    fetch: deps.fetch,
    remember: deps.consent.sourceEvents.remember,
  });
  // Client certificates (RFC 8705): on the certificate listener, or forwarded by the trusted proxy.
  const cert = config.certificates;
  const clientCertificates = {
    listenerOrigin:
      cert.trustAnchorsPath && cert.loginPort && cert.tlsCert && cert.tlsKey
        ? `https://${new URL(config.issuer).hostname}:${cert.loginPort}`
        : undefined,
    trustedProxies: config.trustedProxies,
    header: cert.header,
    headerFormat: cert.headerFormat,
    authority: deps.auth.clientCertificateAuthority,
  };

  // Each build is observed: its route names, issued tokens and errors reach the log and metrics.
  const build = async () => {
    keys.forgetSigner();
    catalogue.renew();
    return tracking.install(
      observeProvider(
        createProvider({
          issuer: config.issuer,
          adapter: store.engine,
          claimSources,
          jwks: await keys.service.engineJwks(),
          cookieKeys: stores.secrets.cookieKeys,
          pairwiseSalt: stores.secrets.pairwiseSalt,
          agencyOf: deps.clients.agencyOf,
          accounts: deps.accounts,
          clientTokensNotBefore: deps.clients.tokensNotBefore,
          pages: deps.pages.engine,
          sessionSystems: {
            current: tracking.currentSystems,
            signedOut: tracking.signedOutSystems,
          },
          outboundPrivateHosts: config.outboundPrivateHosts,
          sessionAbsoluteSeconds: config.sessionAbsoluteSeconds,
          sessionIdleSeconds: config.sessionIdleSeconds,
          proxy: config.trustedProxies.length > 0,
          consent: deps.consent,
          grantIssued: tracking.grantIssued,
          catalogue: await catalogue.list(),
          federation: deps.federation.engineHooks,
          admin: deps.admin.engine,
          clientCertificates,
          metadataCacheControl: cacheControl,
        }),
        { metrics: deps.metrics, log },
      ),
    );
  };
  let provider: Provider = await build();
  let app: EngineApp | undefined;
  const current = () => provider;
  // Keys and the claims catalogue shape the engine's configuration: rebuild it when either changes.
  const engineVersion = async () => `${await keys.service.version()}#${await catalogue.version()}`;
  let version = await engineVersion();

  // A key rotated by the CLI or another instance is picked up within keyReloadSeconds: the
  // engine is rebuilt with the new key set (its state lives in the adapter, so nothing is lost).
  // The new engine answers discovery and the JWKS afresh (engine-cache.ts keeps answers per engine).
  const reloadOnce = async () => {
    await keys.service.activateDue();
    const next = await engineVersion();
    if (next === version) return false;
    provider = await build();
    app = undefined;
    version = next;
    log.info('signing keys or claims catalogue changed; provider reloaded');
    return true;
  };
  // One reload at a time (the poll, the feed and callers may ask at once), each after the last.
  let reloading: Promise<unknown> = Promise.resolve();
  const reload = (): Promise<boolean> => {
    const run = reloading.then(reloadOnce, reloadOnce);
    reloading = run.catch(() => undefined);
    return run;
  };
  let closed = false;
  const reloadInBackground = () => {
    if (!closed) void reload().catch((err) => log.warn({ err }, 'key reload failed'));
  };
  const timer = setInterval(reloadInBackground, reloadSeconds * 1000);
  timer.unref();
  // A revoked key is announced on the change feed: every instance reloads now, not at its poll
  // (and on each (re)subscription, since an announcement may have been missed meanwhile).
  stores.feed?.on(SIGNING_KEYS_TOPIC, reloadInBackground);
  const lookups = createEngineLookups(current);

  return {
    /** The current engine (tests and the logout-token sender reach into it). */
    provider: current,
    /**
     * The current engine as a request handler. Its koa callback is composed at the engine's first
     * request, not here: middleware added to the engine before that counts (tests hold requests
     * with it), and asking for the handler (the discovery cache keys on it) composes nothing.
     */
    engine: (): EngineApp => {
      if (!app) {
        const engine = provider;
        let handle: ReturnType<Provider['callback']> | undefined;
        app = {
          handle: async (req, res) => {
            handle ??= engine.callback();
            await handle(req, res);
          },
        };
      }
      return app;
    },
    reload,
    signingKeys: keys.service,
    interactions: {
      ...createInteractions(current),
      findClient: lookups.findClient,
      currentSession: lookups.currentSession,
    },
    tokens: {
      findAccessToken: lookups.findAccessToken,
      findClientCredentials: lookups.findClientCredentials,
      findAuthorizationCode: lookups.findAuthorizationCode,
    },
    /** Revokes grants on the store: every token issued under them stops working at once. */
    revokeGrants: createGrantsRevoker(store.Adapter),
    /** What the sessions domain asks of the engine's store (session-engine.ts). */
    sessionEngine: createSessionEngine({
      Adapter: store.Adapter,
      TrackedAdapter: tracking.Adapter,
    }),
    /** Sends one queued back-channel logout token with the current engine (backchannel-queue.ts). */
    sendLogoutToken: createLogoutTokenSender({ provider: current, clients: deps.clients }),
    store,
    close() {
      closed = true;
      clearInterval(timer);
      store.close?.();
    },
  };
};

export type OidcModule = Awaited<ReturnType<typeof createOidcModule>>;
