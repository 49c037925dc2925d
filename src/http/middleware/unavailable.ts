// While PostgreSQL or Redis is down: 503 + Retry-After, a readable page for citizens (ko/en),
// problem+json for fetches and the admin API, OAuth `temporarily_unavailable` from the engine
// (src/oidc/unavailable.ts). Nothing is half-done: every write is one transaction, so the
// request can simply be made again once the dependency is back.
import type { Context } from 'koa';
import { UNAVAILABLE_RETRY_AFTER_SECONDS } from '../../store/index.ts';
import { translator } from '../render/messages.ts';
import { langOf, type Views } from '../render/views.ts';

/** The engine's error page when its error is `temporarily_unavailable` (provider.ts renderError). */
export const createUnavailablePage = (views: Views) => async (ctx: Context) => {
  const t = translator(langOf(ctx));
  ctx.set('Retry-After', String(UNAVAILABLE_RETRY_AFTER_SECONDS));
  views.render(
    ctx,
    'message',
    {
      heading: t('unavailable.title'),
      message: t('err.ERR_UNAVAILABLE'),
      code: 'temporarily_unavailable',
    },
    { status: 503 },
  );
};
