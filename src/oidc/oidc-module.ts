// The OIDC engine as one module: its storage, its keys, the provider built from them (rebuilt
// when the keys or the claims catalogue change), and the facade the HTTP layer uses.
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import type { AccountService } from '../accounts/index.ts';
import type { ClientCertificateAuthority } from '../auth/certificate/index.ts';
import type { ClientService } from '../clients/index.ts';
import type { Config } from '../config/index.ts';
import type { CatalogueItem, ConsentService, IssuedToken } from '../consent/index.ts';
import type { FederationEngineHooks } from '../federation/index.ts';
import type { Metrics } from '../observability/index.ts';
import type { SessionService } from '../sessions/index.ts';
import type { OutboundFetch } from '../shared/index.ts';
import type { RedisClient } from '../store/index.ts';
import { createRegistrationStore, type AdminEngine } from './clients/admin-engine.ts';
import { createLogoutTokenSender } from './sessions/backchannel-queue.ts';
import { createClaimSources } from './claims/claim-sources.ts';
import { observeProvider } from './engine-events.ts';
import type { EngineKeys } from './keys/engine-keys.ts';
import { createEngineLookups } from './engine-lookups.ts';
import type { EngineApp, EnginePages } from './engine-types.ts';
import { createGrantsRevoker } from './sessions/grant-revocation.ts';
import { createInteractions } from './interactions.ts';
import { createProvider } from './provider.ts';
import { createSessionEngine } from './sessions/session-engine.ts';
import { createEngineAdapter } from './storage/engine-adapter.ts';

type Deps = {
  config: Config;
  secrets: { cookieKeys: string[]; pairwiseSalt: string };
  redis: RedisClient | undefined;
  /** Keys the storage ids of bearer credentials (hashed-ids.ts). */
  hashId: (id: string) => string;
  log: Logger;
  metrics: Metrics;
  keys: EngineKeys;
  clients: ClientService;
  agencyOf: (clientId: string) => Promise<string | undefined>;
  accounts: AccountService;
  consent: ConsentService;
  /** The catalogue the engine is built with: its scopes and claims (consent-module.ts). */
  catalogue: {
    list: () => Promise<CatalogueItem[]>;
    version: () => Promise<string>;
    renew: () => void;
  };
  /** Stores a distributed token before it is handed out (source-events.ts). */
  rememberIssued: (token: IssuedToken) => Promise<void>;
  fetch: OutboundFetch;
  federation: FederationEngineHooks | undefined;
  admin: AdminEngine;
  pages: EnginePages;
  /**
   * The durable session records the engine's session saves are mirrored to. A getter: that
   * service needs this module's session engine (the one cycle of the composition).
   */
  sessions: () => SessionService;
  /** How often a key rotated elsewhere is looked for (seconds; 30 by default). */
  keyReloadSeconds?: number | undefined;
  /** RFC 8705 2.1 tls_client_auth: the agency CAs (CLIENT_CERT_TRUST_ANCHORS), when set. */
  clientCertificateAuthority?: ClientCertificateAuthority | undefined;
};

export const createOidcModule = async (deps: Deps) => {
  const { config, log, keys, catalogue } = deps;
  // The engine's storage, its whole stack in one place (storage/engine-adapter.ts). Citizens'
  // sessions are mirrored durably (src/sessions) from the engine's session saves.
  const store = createEngineAdapter({
    redis: deps.redis,
    prefix: config.redisKeyPrefix,
    hashId: deps.hashId,
    clients: deps.clients,
    registrations: deps.admin.dcr && createRegistrationStore(deps.admin.dcr),
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
    remember: deps.rememberIssued,
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
    authority: deps.clientCertificateAuthority,
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
          cookieKeys: deps.secrets.cookieKeys,
          pairwiseSalt: deps.secrets.pairwiseSalt,
          agencyOf: deps.agencyOf,
          accounts: deps.accounts,
          clientTokensNotBefore: deps.clients.tokensNotBefore,
          pages: deps.pages,
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
          federation: deps.federation,
          admin: deps.admin,
          clientCertificates,
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
  const reload = async () => {
    await keys.service.activateDue();
    const next = await engineVersion();
    if (next === version) return false;
    provider = await build();
    app = undefined;
    version = next;
    log.info('signing keys or claims catalogue changed; provider reloaded');
    return true;
  };
  const timer = setInterval(
    () => void reload().catch((err) => log.warn({ err }, 'key reload failed')),
    (deps.keyReloadSeconds ?? 30) * 1000,
  );
  timer.unref();
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
      clearInterval(timer);
      store.close?.();
    },
  };
};

export type OidcModule = Awaited<ReturnType<typeof createOidcModule>>;
