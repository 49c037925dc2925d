// One error middleware for our routes: citizens get a readable page in their language, JSON
// callers (the pages' fetches, the admin API) get problem+json. Never a stack trace; 5xx
// details go to the log only.
import type { Context, Next } from 'koa';
import type { Logger } from 'pino';
import { AppError, isAppError } from '../../shared/index.ts';
import { isUnavailableError, UNAVAILABLE_RETRY_AFTER_SECONDS } from '../../store/index.ts';
import { langOf, type Views } from '../render/views.ts';
import { engineTextKey } from '../render/engine-texts.ts';
import { errorTitleKey, translator, type Translate } from '../render/messages.ts';

/** `engine`: an oidc-provider error, whose message is its English error_description. */
type Described = { status: number; code: string; message: string; engine?: boolean };

const describe = (error: unknown): Described => {
  // PostgreSQL or Redis down (src/store/health.ts): 503, try again shortly; not our bug.
  if (isUnavailableError(error))
    return { status: 503, code: 'ERR_UNAVAILABLE', message: 'One-ID is temporarily unavailable.' };
  if (isAppError(error))
    return {
      status: error.status,
      code: error.code,
      message: error.expose ? error.message : 'Internal error',
    };
  const e = error as {
    status?: number;
    statusCode?: number;
    error?: string;
    error_description?: string;
    expose?: boolean;
  };
  const status = e.status ?? e.statusCode ?? 500;
  // oidc-provider's errors (e.g. SessionNotFound when the interaction cookie is gone).
  if (e.error && status < 500)
    return {
      status,
      code: e.error === 'invalid_request' && status === 400 ? 'ERR_INTERACTION_EXPIRED' : e.error,
      message: e.error_description ?? e.error,
      engine: true,
    };
  if (status < 500 && e.expose)
    return { status, code: 'ERR_BAD_REQUEST', message: (error as Error).message };
  return { status: 500, code: 'ERR_INTERNAL', message: 'Internal error' };
};

/**
 * The page's words for a refusal: our text for the code, else the OAuth error's, else the
 * engine's description translated; an untranslated English description never reaches a page.
 */
const messageFor = (t: Translate, code: string, d: Described) => {
  for (const key of [`err.${code}`, `oauth.${code}`]) if (t(key) !== key) return t(key);
  if (d.status >= 500) return t('error.retry');
  const engineKey = d.engine ? engineTextKey(d.message) : undefined;
  if (engineKey) return t(engineKey);
  return d.engine ? t('err.oauth') : d.message;
};

export const wantsJson = (ctx: Context) =>
  ctx.is('application/json') === 'application/json' ||
  ctx.path.startsWith('/admin/api/') ||
  ctx.get('accept').startsWith('application/json');

export const errorHandler =
  ({ views, log }: { views: Views; log: Logger }) =>
  async (ctx: Context, next: Next) => {
    try {
      await next();
      if (
        ctx.status === 404 &&
        ctx.body === undefined &&
        !ctx.res.headersSent &&
        ctx.respond !== false
      ) {
        throw new AppError('ERR_NOT_FOUND', 'not found', { status: 404 });
      }
    } catch (error) {
      const d = describe(error);
      const code = d.status === 404 && d.code === 'ERR_BAD_REQUEST' ? 'ERR_NOT_FOUND' : d.code;
      if (code === 'ERR_UNAVAILABLE') {
        const e = error as { name?: string; code?: string; message?: string };
        log.warn(
          {
            err: { type: e.name, code: e.code, message: e.message?.slice(0, 200) },
            reqId: ctx.state.reqId,
          },
          'dependency unavailable',
        );
      } else if (d.status >= 500)
        log.error({ err: error, reqId: ctx.state.reqId }, 'request failed');
      // The route pattern, never the raw path: paths carry interaction ids and enrolment tokens.
      else
        log.info(
          {
            code,
            status: d.status,
            route: (ctx as { _matchedRoute?: string })._matchedRoute ?? 'unmatched',
            reqId: ctx.state.reqId,
          },
          'request refused',
        );
      const t = translator(langOf(ctx));
      const message = messageFor(t, code, d);
      // RFC 9110 10.2.3: when to try again, for refusals that pass (rate limits, lockouts, outages).
      const retryAfter =
        d.status === 429 && isAppError(error)
          ? Number(error.details?.retryAfter)
          : d.status === 503
            ? UNAVAILABLE_RETRY_AFTER_SECONDS
            : NaN;
      if (retryAfter > 0) ctx.set('Retry-After', String(Math.ceil(retryAfter)));
      if (wantsJson(ctx)) {
        ctx.status = d.status;
        ctx.type = 'application/problem+json';
        ctx.body = {
          type: 'about:blank',
          title: code,
          status: d.status,
          detail: message,
          code,
          message,
        };
        return;
      }
      // "Start again" helps after a broken sign-in or a server fault, not after e.g. a used enrolment link.
      const retry =
        d.status >= 500 ||
        code === 'ERR_INTERACTION_EXPIRED' ||
        code === 'ERR_SIGN_IN_NOT_COMPLETED' ||
        /^[a-z_]+$/.test(code);
      const unavailable = code === 'ERR_UNAVAILABLE';
      views.render(
        ctx,
        'message',
        {
          heading: t(unavailable ? 'unavailable.title' : errorTitleKey(t, code, d.status)),
          message,
          detail: retry && !unavailable ? t('error.retry') : undefined,
          code,
        },
        { status: d.status },
      );
    }
  };
