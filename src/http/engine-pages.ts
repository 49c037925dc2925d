// The engine's own pages (errors, logout confirmation, signed-out), rendered with our views.
import type { Context } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { translator } from './messages.ts';
import { langOf, type Views } from './views.ts';

export const engineErrorCode = (error: string) =>
  /^[a-z_]{1,64}$/.test(error) ? error : 'server_error';

/** `signedOutSystems`: the agency systems of the session the browser just ended (for the signed-out page). */
export const createEnginePages = (
  views: Views,
  options: { signedOutSystems?: (ctx: KoaContextWithOIDC) => Promise<string[]> } = {},
) => ({
  async error(ctx: KoaContextWithOIDC, out: { error: string; error_description?: string }) {
    const c = ctx as unknown as Context;
    // The refused request's ui_locales (OIDC Core 3.1.2.1), as on the sign-in page; read from the
    // query too, since the engine may refuse it before parsing its parameters (an unknown client).
    const asked = ctx.oidc?.params?.ui_locales ?? ctx.query.ui_locales;
    const uiLocales = typeof asked === 'string' ? asked : undefined;
    const t = translator(langOf(c, uiLocales));
    views.render(
      c,
      'message',
      {
        heading: t('error.title'),
        message: t('err.oauth'),
        detail: out.error_description
          ? `${out.error_description}. ${t('error.retry')}`
          : t('error.retry'),
        code: engineErrorCode(out.error),
      },
      { status: ctx.status, uiLocales },
    );
  },
  async logout(ctx: KoaContextWithOIDC, form: string) {
    views.render(ctx as unknown as Context, 'logout', { formHtml: form });
  },
  async postLogout(ctx: KoaContextWithOIDC) {
    const c = ctx as unknown as Context;
    const t = translator(langOf(c));
    const client = ctx.oidc.client;
    const name = client?.clientName ?? client?.clientId;
    if (name) {
      views.render(c, 'message', {
        heading: t('logout.title'),
        message: t('logout.done.client', { client: name }),
      });
      return;
    }
    views.render(c, 'logged-out', { systems: (await options.signedOutSystems?.(ctx)) ?? [] });
  },
});
