// The HTTP application: security headers, our routes (interaction, enrolment, static,
// health), then the OIDC engine for everything else (discovery, authorize, token, ...).
import Koa from 'koa';
import Router from '@koa/router';
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import type { EnrolmentService } from '../auth/index.ts';
import type { CertificateLoginService, RecoveryService } from '../auth/certificate/index.ts';
import type { PasskeyServiceLike } from './deps.ts';
import type { Csrf } from './csrf.ts';
import { accountRoutes } from './account-routes.ts';
import { certificateLoginView, certificateRoutes, type CertificateLoginOptions } from './certificate-routes.ts';
import { recoveryRoutes } from './recovery-routes.ts';
import type { AccountSession } from './account-session.ts';
import type { AccountService } from '../accounts/index.ts';
import type { ConsentService, MyDataService } from '../consent/index.ts';
import { enrolmentRoutes } from './enrolment-routes.ts';
import { errorHandler } from './errors.ts';
import { healthRoutes } from './health-routes.ts';
import { metricsRoutes, observeRequests } from './metrics.ts';
import type { Metrics } from '../observability/index.ts';
import { interactionRoutes } from './interaction-routes.ts';
import { securityHeaders } from './security.ts';
import { staticRoutes } from './static-routes.ts';
import type { Views } from './views.ts';

export type HttpDeps = {
  provider: () => Provider;
  passkeys: PasskeyServiceLike;
  enrolment: EnrolmentService;
  agencyOf: (clientId: string) => Promise<string | undefined>;
  accountSession: AccountSession;
  accounts: AccountService;
  consent: ConsentService;
  myData: MyDataService;
  onConsentWithdrawn?: (accountId: string, clientId: string) => Promise<void>;
  views: Views;
  csrf: Csrf;
  log: Logger;
  metrics: Metrics;
  /** METRICS_PUBLIC: also serve GET /metrics here (development only). */
  metricsPublic?: boolean | undefined;
  checks: Record<string, () => Promise<void>>;
  https: boolean;
  proxy: boolean;
  /** Certificate login (CERT_TRUST_ANCHORS set): its routes, the login page's section, recovery. */
  certificateLogin?: { certificates: CertificateLoginService; recovery: RecoveryService; options: CertificateLoginOptions } | undefined;
};

export const createHttpApp = (deps: HttpDeps): Koa => {
  const app = new Koa();
  app.proxy = deps.proxy;
  app.silent = true;
  const router = new Router();
  const cert = deps.certificateLogin;
  interactionRoutes(router, { ...deps, certificateLogin: cert && ((uid: string) => certificateLoginView(cert.options, uid)) });
  if (cert) {
    certificateRoutes(router, { ...deps, certificates: cert.certificates, certificateOptions: cert.options });
    recoveryRoutes(router, { ...deps, recovery: cert.recovery });
  }
  enrolmentRoutes(router, deps);
  accountRoutes(router, deps);
  staticRoutes(router);
  healthRoutes(router, deps);

  if (deps.metricsPublic) metricsRoutes(router, deps);

  // Request id, one log line and the metrics of every request (src/http/metrics.ts).
  app.use(observeRequests(deps));
  app.use(securityHeaders({ hsts: deps.https }));
  app.use(async (ctx, next) => {
    const matched = router.match(ctx.path, ctx.method);
    if (!matched.route) {
      // Everything else is the engine's: it writes its own response (and its own errors).
      ctx.respond = false;
      await handlerFor(deps.provider())(ctx.req, ctx.res);
      return;
    }
    await next();
  });
  app.use(errorHandler(deps));
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
};

const handlers = new WeakMap<Provider, ReturnType<Provider['callback']>>();
const handlerFor = (provider: Provider) => {
  let handler = handlers.get(provider);
  if (!handler) {
    handler = provider.callback();
    handlers.set(provider, handler);
  }
  return handler;
};
