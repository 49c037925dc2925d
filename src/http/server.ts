// The HTTP application: security headers, our routes (interaction, enrolment, static,
// health), then the OIDC engine for everything else (discovery, authorize, token, ...).
import { randomUUID } from 'node:crypto';
import Koa from 'koa';
import Router from '@koa/router';
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import type { EnrolmentService } from '../auth/index.ts';
import type { PasskeyServiceLike } from './deps.ts';
import type { Csrf } from './csrf.ts';
import { accountRoutes } from './account-routes.ts';
import type { AccountSession } from './account-session.ts';
import type { AccountService } from '../accounts/index.ts';
import type { ConsentService } from '../consent/index.ts';
import { enrolmentRoutes } from './enrolment-routes.ts';
import { errorHandler } from './errors.ts';
import { healthRoutes } from './health-routes.ts';
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
  views: Views;
  csrf: Csrf;
  log: Logger;
  checks: Record<string, () => Promise<void>>;
  https: boolean;
  proxy: boolean;
};

export const createHttpApp = (deps: HttpDeps): Koa => {
  const app = new Koa();
  app.proxy = deps.proxy;
  app.silent = true;
  const router = new Router();
  interactionRoutes(router, deps);
  enrolmentRoutes(router, deps);
  accountRoutes(router, deps);
  staticRoutes(router);
  healthRoutes(router, deps);

  app.use(async (ctx, next) => {
    ctx.state.reqId = ctx.get('x-request-id').slice(0, 64) || randomUUID();
    ctx.set('X-Request-Id', ctx.state.reqId);
    const started = performance.now();
    try {
      await next();
    } finally {
      deps.log.debug({ reqId: ctx.state.reqId, method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(performance.now() - started) }, 'request');
    }
  });
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
