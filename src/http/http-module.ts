// The HTTP layer, wired from the modules below it: its pages first (the engine renders through
// them), then the koa app, the mutual-TLS certificate listener and the listeners' lifecycle.
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { AccountService } from '../accounts/index.ts';
import type { AdminModule } from '../admin/index.ts';
import type { AuditService } from '../audit/index.ts';
import type { AuthModule } from '../auth/index.ts';
import type { ClientsModule } from '../clients/index.ts';
import type { Config } from '../config/index.ts';
import type { CatalogueService, ConsentEnding, ConsentModule } from '../consent/index.ts';
import type { FederationModule } from '../federation/index.ts';
import type { Metrics } from '../observability/index.ts';
import { engineCookieNames, type OidcFacade } from '../oidc/index.ts';
import type { SessionService } from '../sessions/index.ts';
import type { Secrets, Stores } from '../store/index.ts';
import { createAccountSession } from './account/account-session.ts';
import { adminSessionCookie, createConsoleSession } from './admin/console/session.ts';
import { createListeners } from './listeners.ts';
import { createCsrf } from './middleware/csrf.ts';
import { createRateLimits } from './rate-limit/limiter.ts';
import { createViews } from './render/views.ts';
import { createHttpApp } from './server.ts';
import { createCertificateListener } from './sign-in/certificate-listener.ts';
import { createEnginePages } from './sign-in/engine-pages.ts';

/** The pages' CSRF tokens and views, and the engine's own pages rendered with them. */
export const createHttpPages = (deps: {
  issuer: string;
  config: Pick<Config, 'site'>;
  secrets: Pick<Secrets, 'cookieKeys'>;
}) => {
  const https = new URL(deps.issuer).protocol === 'https:';
  // CSRF tokens are bound to the session the request acts for (middleware/csrf.ts).
  const csrf = createCsrf({
    key: deps.secrets.cookieKeys[0]!,
    secure: https,
    sessionCookies: {
      admin: adminSessionCookie(https),
      session: engineCookieNames(https).session,
      interaction: engineCookieNames(https).interaction,
    },
  });
  const views = createViews({ csrfToken: csrf.token, site: deps.config.site });
  return { csrf, views, engine: createEnginePages(views) };
};

export type HttpPages = ReturnType<typeof createHttpPages>;

type Deps = {
  config: Config;
  log: Logger;
  metrics: Metrics;
  stores: Pick<Stores, 'kv' | 'redis' | 'checks'>;
  pages: HttpPages;
  oidc: OidcFacade;
  accounts: AccountService;
  auth: AuthModule;
  clients: Pick<ClientsModule, 'agencyOf' | 'directory'>;
  consent: ConsentModule;
  consentEnding: ConsentEnding;
  sessions: SessionService;
  federation: FederationModule;
  admin: AdminModule;
  audit: AuditService;
  /** The claims catalogue (the console names data items by its labels). */
  catalogue: Pick<CatalogueService, 'list'>;
};

export const createHttpModule = (deps: Deps) => {
  const { config, log, oidc, auth, pages } = deps;
  const { issuer } = config;
  const issuerUrl = new URL(issuer);
  const https = issuerUrl.protocol === 'https:';
  const cert = config.certificates;
  // The mutual-TLS listener (CERT_LOGIN_PORT + TLS_CERT + TLS_KEY): the only one asking for client certificates.
  const tls =
    auth.certificates && cert.loginPort && cert.tlsCert && cert.tlsKey
      ? {
          certificates: auth.certificates,
          port: cert.loginPort,
          origin: `https://${issuerUrl.hostname}:${cert.loginPort}`,
          tlsCert: cert.tlsCert,
          tlsKey: cert.tlsKey,
        }
      : undefined;
  const certificateListener =
    tls &&
    createCertificateListener({
      certificates: tls.certificates.login,
      issuer,
      origin: tls.origin,
      // Client certificates at the engine's endpoints (mtls_endpoint_aliases, RFC 8705 5).
      engine: oidc.engine,
      tlsCert: readFileSync(tls.tlsCert),
      tlsKey: readFileSync(tls.tlsKey),
      trustAnchorsPem: tls.certificates.trustAnchorsPem,
      views: pages.views,
      log,
    });
  const listeners = createListeners({
    metrics: deps.metrics,
    metricsAt: config.metrics,
    certificate: certificateListener,
    certificatePort: tls?.port,
  });
  const app = createHttpApp({
    oidc,
    passkeys: auth.passkeys,
    enrolment: auth.enrolment,
    agencyOf: deps.clients.agencyOf,
    accountSession: createAccountSession({
      interactions: oidc.interactions,
      issuer,
      secure: https,
      lifetimes: {
        idleSeconds: config.sessionIdleSeconds,
        absoluteSeconds: config.sessionAbsoluteSeconds,
      },
    }),
    accounts: deps.accounts,
    consent: deps.consent,
    myData: deps.consent.myData,
    consentEnding: deps.consentEnding,
    federation: deps.federation,
    sessions: deps.sessions,
    views: pages.views,
    csrf: pages.csrf,
    admin: {
      admin: deps.admin,
      session: createConsoleSession({
        tokens: oidc.tokens,
        issuer,
        kv: deps.stores.kv,
        secure: https,
        settings: config.admin,
        admins: deps.admin.admins,
        audit: deps.audit,
      }),
      settings: config.admin,
      issuer,
      audience: deps.admin.engine.audience,
      accountName: async (accountId) => (await deps.accounts.findById(accountId))?.name,
      claims: deps.catalogue.list,
      systemNames: deps.clients.directory.names,
    },
    log,
    metrics: deps.metrics,
    metricsPublic: config.metrics.public,
    checks: deps.stores.checks,
    stopping: listeners.draining,
    https,
    issuer,
    proxy: config.trustedProxies.length > 0,
    trustedProxies: config.trustedProxies,
    // Shared by every instance through Redis when there is one; namespaced by REDIS_KEY_PREFIX.
    rateLimits: createRateLimits({
      config: config.rateLimits,
      redis: deps.stores.redis,
      prefix: config.redisKeyPrefix,
    }),
    signInMethods: auth.signInMethods,
    directory: deps.clients.directory,
    certificateLogin: auth.certificates && {
      certificates: auth.certificates.login,
      options: {
        tlsLoginUrl: tls && `${tls.origin}/certificate/tls`,
        trustedProxies: config.trustedProxies,
        header: cert.header,
      },
    },
  });
  return {
    /** The koa app (tests read its middleware). */
    app,
    /** Starts listening; resolves with the bound port (0 in config picks a free one). */
    listen: (port = config.port, host = config.host) => listeners.listen(app, port, host),
    drain: listeners.drain,
    close: listeners.close,
  };
};

export type HttpModule = ReturnType<typeof createHttpModule>;
