// Makes the OIDC engine observable: it names the route of each request it serves (for the
// request log and the metrics' bounded `route` label), counts issued tokens, and logs its errors.
// Attach it to every provider built (the engine is rebuilt when signing keys change).
// Logged fields are codes, route names and client ids: never parameters, tokens or claims.
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Logger } from 'pino';
import { safeError, type Metrics } from '../observability/index.ts';

// oidc-provider emits `<event>.error` from each endpoint's error handler for OAuth errors
// (4xx) and `server_error` for everything else (lib/shared/error_handler.js).
const CLIENT_ERROR_EVENTS = [
  'authorization.error',
  'grant.error',
  'userinfo.error',
  'introspection.error',
  'revocation.error',
  'end_session.error',
  'end_session_confirm.error',
  'end_session_success.error',
  'pushed_authorization_request.error',
  'discovery.error',
  'jwks.error',
] as const;

type OAuthError = Error & {
  error?: string;
  error_description?: string;
  error_detail?: string;
  status?: number;
};
type Listener = (ctx: KoaContextWithOIDC, ...rest: never[]) => void;
type Emitter = { on: (event: string, listener: Listener) => unknown };

/** The request id our HTTP layer put on the response before handing the request to the engine. */
const reqIdOf = (ctx: KoaContextWithOIDC) =>
  ctx.res.getHeader('x-request-id') as string | undefined;

const clip = (value: unknown, max = 200) =>
  typeof value === 'string' ? value.slice(0, max) : undefined;

/** Attaches the observers to a freshly built provider and returns it. */
export const observeProvider = (
  provider: Provider,
  { metrics, log }: { metrics: Metrics; log: Logger },
): Provider => {
  provider.use(async (koaCtx, next) => {
    const ctx = koaCtx as unknown as KoaContextWithOIDC;
    try {
      await next();
    } finally {
      // ctx.oidc exists once the engine's router matched one of its routes.
      metrics.tagEngineRequest(ctx.req, {
        route: ctx.oidc?.route ?? 'unmatched',
        clientId: ctx.oidc?.client?.clientId,
      });
    }
  });

  const events = provider as unknown as Emitter;
  events.on('grant.success', (ctx) => metrics.recordTokenIssued(ctx.oidc?.params?.grant_type));

  for (const event of CLIENT_ERROR_EVENTS) {
    events.on(event, (ctx, ...[err]: [OAuthError]) => {
      metrics.recordOidcError(event, err?.error);
      // A failed client authentication is worth a look (a misconfigured agency or someone probing).
      const level = err?.error === 'invalid_client' ? 'warn' : 'info';
      log[level](
        {
          reqId: reqIdOf(ctx),
          event,
          route: ctx.oidc?.route,
          client: ctx.oidc?.client?.clientId,
          error: err?.error,
          error_description: clip(err?.error_description),
          error_detail: clip(err?.error_detail),
        },
        'oidc request refused',
      );
    });
  }

  events.on('server_error', (ctx, ...[err]: [Error]) => {
    metrics.recordOidcError('server_error', 'server_error');
    log.error(
      {
        reqId: reqIdOf(ctx),
        route: ctx.oidc?.route,
        client: ctx.oidc?.client?.clientId,
        err: safeError(err),
      },
      'oidc engine error',
    );
  });

  // The engine's own back-channel logout delivery (when used): the account and session ids stay out of the log.
  events.on(
    'backchannel.error',
    (ctx, ...[err, client]: [OAuthError, { clientId?: string } | undefined]) => {
      log.warn(
        { reqId: reqIdOf(ctx), client: client?.clientId, err: safeError(err) },
        'back-channel logout delivery failed',
      );
    },
  );
  return provider;
};
