// The HTTP application: security headers, our routes (interaction, enrolment, static,
// health), then the OIDC engine for everything else (discovery, authorize, token, ...).
import type { IncomingMessage, ServerResponse } from 'node:http';
import Koa from 'koa';
import Router from '@koa/router';
import type { OidcFacade } from '../oidc/index.ts';
import type { Logger } from 'pino';
import type { EnrolmentService } from '../auth/index.ts';
import type { CertificateLoginService, RecoveryService } from '../auth/certificate/index.ts';
import type { PasskeyServiceLike } from './deps.ts';
import type { Csrf } from './middleware/csrf.ts';
import { accountRoutes } from './account/account-routes.ts';
import { adminRoutes, type AdminHttpDeps } from './admin/admin-routes.ts';
import { sessionRoutes } from './account/session-routes.ts';
import type { SessionService } from '../sessions/index.ts';
import type { SystemDirectory } from '../clients/index.ts';
import {
  certificateLoginView,
  certificateRoutes,
  type CertificateLoginOptions,
} from './sign-in/certificate-routes.ts';
import { certificateRefusedRoutes } from './sign-in/certificate-refused-routes.ts';
import { recoveryRoutes, SIGN_IN_METHOD_PAGES } from './account/recovery-routes.ts';
import type { AccountSession } from './account/account-session.ts';
import type { AccountService } from '../accounts/index.ts';
import type { ConsentEnding, ConsentService, MyDataService } from '../consent/index.ts';
import { enrolmentRoutes } from './sign-in/enrolment-routes.ts';
import { errorHandler } from './middleware/errors.ts';
import { AppError } from '../shared/index.ts';
import {
  answerFromCache,
  isStaticEngineRequest,
  recordEngineAnswer,
  staticEnginePath,
} from './middleware/engine-cache.ts';
import { staticSecurityHeaders } from './middleware/security.ts';
import { healthRoutes } from './health-routes.ts';
import { metricsRoutes, observeRequests } from './middleware/metrics.ts';
import type { Metrics } from '../observability/index.ts';
import { interactionRoutes } from './sign-in/interaction-routes.ts';
import { federationRoutes } from './sign-in/federation-routes.ts';
import { agencyLinkRoutes } from './account/agency-link-routes.ts';
import type { FederationModule } from '../federation/index.ts';
import type { RateLimits } from './rate-limit/limiter.ts';
import { trustedForwarding } from './rate-limit/client-address.ts';
import { guardCertificates, guardPasskeys } from './rate-limit/guards.ts';
import { canonicalPaths } from './middleware/canonical-path.ts';
import { createIssuerOrigin, type IssuerOrigin } from './middleware/issuer-origin.ts';
import { clientRateLimit, routeRateLimits } from './rate-limit/routes.ts';
import { securityHeaders } from './middleware/security.ts';
import { staticRoutes } from './render/static-routes.ts';
import { matchByFirstSegment } from './route-match.ts';
import { systemsRoutes } from './account/systems-routes.ts';
import type { Views } from './render/views.ts';

export type HttpDeps = {
  /** The engine: its facade for our pages, token look-ups, and the engine's own endpoints. */
  oidc: OidcFacade;
  passkeys: PasskeyServiceLike;
  enrolment: EnrolmentService;
  agencyOf: (clientId: string) => Promise<string | undefined>;
  accountSession: AccountSession;
  accounts: AccountService;
  consent: ConsentService;
  myData: MyDataService;
  /** Ending a consent (withdrawal on My One-ID): src/consent/consent-ending.ts. */
  consentEnding: Pick<ConsentEnding, 'withdraw'>;
  /** Citizens' sessions: listed on My One-ID and ended from there (src/sessions). */
  sessions?: SessionService | undefined;
  views: Views;
  csrf: Csrf;
  /** The admin console and API (docs/admin.md). */
  admin?: AdminHttpDeps | undefined;
  log: Logger;
  metrics: Metrics;
  /** METRICS_PUBLIC: also serve GET /metrics here (development only). */
  metricsPublic?: boolean | undefined;
  checks: Record<string, () => Promise<void>>;
  /** True once a graceful stop began: /readyz answers 503 while the instance drains. */
  stopping?: (() => boolean) | undefined;
  https: boolean;
  /** ISSUER: the only origin requests may name, and the one every URL we publish derives from. */
  issuer: string;
  proxy: boolean;
  /** TRUSTED_PROXIES: the only TCP peers whose X-Forwarded-* headers are believed (src/http/rate-limit/client-address.ts). */
  trustedProxies: readonly string[];
  /** Rate limits and lockouts (src/http/rate-limit/limiter.ts; docs/security.md). */
  rateLimits: RateLimits;
  /** Federation (src/federation): sign-in through upstream identity providers, agency account links. */
  federation?: FederationModule | undefined;
  /** Certificate login (CERT_TRUST_ANCHORS set): its routes, the login page's section, recovery. */
  certificateLogin?:
    { certificates: CertificateLoginService; options: CertificateLoginOptions } | undefined;
  /** Passkeys and certificates of a citizen: register, remove, unlink (My One-ID). */
  signInMethods: RecoveryService;
  /** My One-ID's directory of agency systems (systems-routes.ts). */
  directory: SystemDirectory;
};

export const createHttpApp = (deps: HttpDeps): Koa => {
  const app = new Koa();
  app.proxy = deps.proxy;
  app.silent = true;
  // Case-sensitive, like the rate limits' patterns; paths arrive canonical (canonical-path.ts).
  const router = new Router({ sensitive: true });
  const origin = createIssuerOrigin({ origin: deps.issuer, trustedProxies: deps.trustedProxies });
  const cert = deps.certificateLogin;
  // Sign-in ceremonies: per-identifier and per-credential limits, lockout of a failing passkey or certificate.
  // Upstream identity providers: their routes first (they load the login page's federation section).
  const loginViews = deps.federation
    ? federationRoutes(router, {
        ...deps,
        interactions: deps.oidc.interactions,
        federation: deps.federation,
        passkeys: guardPasskeys(deps.passkeys, deps.rateLimits),
        certificateLogin: Boolean(cert),
      })
    : deps.views;
  interactionRoutes(router, {
    ...deps,
    interactions: deps.oidc.interactions,
    views: loginViews,
    passkeys: guardPasskeys(deps.passkeys, deps.rateLimits),
    certificateLogin: cert && ((uid: string) => certificateLoginView(cert.options, uid)),
  });
  if (cert) {
    certificateRoutes(router, {
      ...deps,
      interactions: deps.oidc.interactions,
      certificates: guardCertificates(cert.certificates, deps.rateLimits),
      certificateOptions: cert.options,
    });
    certificateRefusedRoutes(router, deps);
    recoveryRoutes(router, {
      ...deps,
      recovery: deps.signInMethods,
      page: SIGN_IN_METHOD_PAGES.recover,
    });
  }
  enrolmentRoutes(router, deps);
  accountRoutes(router, { ...deps, certificateLogin: Boolean(cert) });
  systemsRoutes(router, deps);
  recoveryRoutes(router, {
    ...deps,
    recovery: deps.signInMethods,
    page: SIGN_IN_METHOD_PAGES.security,
  });
  if (deps.admin)
    adminRoutes(router, {
      ...deps.admin,
      oidc: deps.oidc,
      views: deps.views,
      csrf: deps.csrf,
      upstreams: deps.federation?.upstreams,
    });
  if (deps.federation)
    agencyLinkRoutes(router, { ...deps, agencyLinks: deps.federation.agencyLinks });
  if (deps.sessions) sessionRoutes(router, { ...deps, sessions: deps.sessions });
  staticRoutes(router);
  healthRoutes(router, deps);

  if (deps.metricsPublic) metricsRoutes(router, deps);

  app.use(trustedForwarding(deps.trustedProxies));
  // Request id, one log line and the metrics of every request (src/http/middleware/metrics.ts).
  app.use(observeRequests(deps));
  app.use(securityHeaders({ hsts: deps.https }));
  // The issuer's host only (421 otherwise), over https when it is; then one spelling of the path
  // for the rate limits, the router and the engine alike.
  app.use(origin.middleware(errorHandler(deps)));
  app.use(canonicalPaths());
  // The engine's client-authenticated endpoints (per client_id and address) and the admin API, before anything runs.
  app.use(clientRateLimit(deps.rateLimits));
  // Every route is registered: each request now tries only those its first segment allows.
  matchByFirstSegment(router);
  const ours = routedByUs(router);
  app.use((ctx, next) => {
    if (ENGINE_PATH.test(ctx.path) && !ours(ctx.path, ctx.method)) {
      const engine = deps.oidc.engine();
      // Discovery and JWKS: the engine's first answer is kept per engine instance; later ones are
      // served from it before koa runs (engine-cache.ts, cachedStaticAnswers below).
      const cacheable = isStaticEngineRequest(ctx);
      // Everything else is the engine's: it writes its own response (and its own errors).
      ctx.respond = false;
      if (cacheable && ctx.method === 'GET') recordEngineAnswer(ctx.req, ctx.res, ctx.path, engine);
      return engine.handle(ctx.req, ctx.res);
    }
    return next();
  });
  app.use(errorHandler(deps));
  // Our routes' path parameters and query values reach PostgreSQL, which cannot hold U+0000.
  app.use((ctx, next) => {
    if (/%00/i.test(ctx.url))
      throw new AppError('ERR_BAD_REQUEST', 'The address contains a NUL character.', {
        status: 400,
      });
    return next();
  });
  app.use(routeRateLimits(deps.rateLimits));
  app.use(router.routes());
  app.use(router.allowedMethods());
  cachedStaticAnswers(app, deps, origin);
  return app;
};

/**
 * The engine's endpoints (oidc-provider's default routes: authorization and its resume, end
 * session and its confirm/success, token, introspection, revocation, userinfo, JWKS, PAR,
 * registration, discovery). Any other unmatched path is ours to answer: a readable 404 page (or
 * problem+json), not the engine's plain-text "Not Found". Exact and case-sensitive: the engine's
 * own router folds case, and `/token/INTROSPECTION` must not escape the limits of `/token/introspection`.
 */
const ENGINE_PATH =
  /^\/(?:\.well-known\/openid-configuration|auth(?:\/[^/]+)?|session\/end(?:\/confirm|\/success)?|token(?:\/introspection|\/revocation)?|me|jwks|request|reg(?:\/[^/]+)?)$/;

/** The engine's paths that hold no parameter: whether a route of ours answers one is kept. */
const FIXED_ENGINE_PATHS = new Set([
  '/.well-known/openid-configuration',
  '/auth',
  '/session/end',
  '/session/end/confirm',
  '/session/end/success',
  '/token',
  '/token/introspection',
  '/token/revocation',
  '/me',
  '/jwks',
  '/request',
  '/reg',
]);

/**
 * Whether one of our routes answers `method` on `path` (they take precedence over the engine's).
 * Every route is registered before the app serves, so for the engine's fixed paths the answer is
 * kept instead of trying each route's pattern on every token call (methods are the few that
 * node's HTTP parser accepts).
 */
const routedByUs = (router: Router) => {
  const known = new Map<string, boolean>();
  return (path: string, method: string) => {
    if (!FIXED_ENGINE_PATHS.has(path)) return router.match(path, method).route;
    const key = `${method} ${path}`;
    let route = known.get(key);
    if (route === undefined) known.set(key, (route = router.match(path, method).route));
    return route;
  };
};

/**
 * Discovery and JWKS from the engine's kept answer, ahead of koa: still counted and logged like
 * any request. A request the issuer rule would refuse or redirect goes to koa, which does so.
 */
const cachedStaticAnswers = (app: Koa, deps: HttpDeps, origin: IssuerOrigin) => {
  const headers = staticSecurityHeaders({ hsts: deps.https });
  const callback = app.callback.bind(app);
  app.callback = () => {
    const handle = callback();
    return (req, res) => {
      // Only discovery and JWKS are answered here: the issuer rule is checked ahead of koa for
      // them alone (koa checks it for every request it handles).
      if (!staticEnginePath(req as IncomingMessage) || !origin.accepts(req as IncomingMessage))
        return handle(req, res);
      const started = performance.now();
      const answered = answerFromCache(
        req as IncomingMessage,
        res as ServerResponse,
        deps.oidc.engine(),
        headers,
      );
      if (answered === undefined) return handle(req, res);
      const { route, reqId } = answered;
      const seconds = (performance.now() - started) / 1000;
      deps.metrics.recordRequest(req.method ?? 'GET', route, res.statusCode, seconds);
      if (deps.log.isLevelEnabled('info'))
        deps.log.info(
          {
            reqId,
            method: req.method,
            route,
            status: res.statusCode,
            ms: Math.round(seconds * 1000),
          },
          'request',
        );
      return Promise.resolve();
    };
  };
};
