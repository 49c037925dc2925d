// The engine's own pages (errors, logout confirmation, signed-out), rendered with our views.
import type { Context } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { engineText } from '../render/engine-texts.ts';
import { errorTitleKey, translator } from '../render/messages.ts';
import { langOf, type Views } from '../render/views.ts';

export const engineErrorCode = (error: string) =>
  /^[a-z_]{1,64}$/.test(error) ? error : 'server_error';

/**
 * The engine's English error_description never reaches a page: each error code has a message
 * key, and redirect_uri refusals (invalid_request in the engine) have their own.
 */
const engineMessageKey = (t: (key: string) => string, code: string, description?: string) => {
  if (description && /redirect_uri/.test(description)) return 'oauth.redirect_uri';
  const key = `oauth.${code}`;
  return t(key) === key ? 'err.oauth' : key;
};

/** Errors caused by how the agency registered or called its system, not by the citizen. */
const AGENCY_FAULTS = new Set([
  'invalid_client',
  'invalid_client_metadata',
  'invalid_redirect_uri',
  'unauthorized_client',
  'invalid_request_object',
]);

type Options = {
  /** The agency systems of the session the browser just ended, undefined when it ended none. */
  signedOutSystems?: (ctx: KoaContextWithOIDC) => Promise<string[] | undefined>;
  /** The agency systems of the browser's current session (named on the sign-out question). */
  currentSystems?: (ctx: KoaContextWithOIDC) => Promise<string[]>;
};

export const createEnginePages = (views: Views, options: Options = {}) => ({
  async error(ctx: KoaContextWithOIDC, out: { error: string; error_description?: string }) {
    const c = ctx as unknown as Context;
    // The refused request's ui_locales (OIDC Core 3.1.2.1), as on the sign-in page; read from the
    // query too, since the engine may refuse it before parsing its parameters (an unknown client).
    const asked = ctx.oidc?.params?.ui_locales ?? ctx.query.ui_locales;
    const uiLocales = typeof asked === 'string' ? asked : undefined;
    const t = translator(langOf(c, uiLocales));
    const code = engineErrorCode(out.error);
    views.render(
      c,
      'message',
      {
        heading: t(errorTitleKey(t, code, ctx.status)),
        message: t(engineMessageKey(t, code, out.error_description)),
        detail: t('error.retry'),
        code,
        // A registration fault is the agency's to fix: its developers need the engine's words,
        // in the page's language when we know them (else English, marked so), kept in a
        // disclosure under the code for the help desk.
        technical:
          AGENCY_FAULTS.has(code) && out.error_description
            ? engineText(t, out.error_description)
            : undefined,
      },
      { status: ctx.status, uiLocales },
    );
  },
  // The question names the system asking and every system the citizen would leave. With a
  // system asking, "no" still signs out of that system alone (the engine's end_session confirm
  // without logout=yes); without one, "stay signed in" changes nothing, so it is a plain link.
  async logout(ctx: KoaContextWithOIDC, form: string) {
    const client = ctx.oidc.client;
    views.render(ctx as unknown as Context, 'logout', {
      formHtml: form,
      client: client ? (client.clientName ?? client.clientId) : undefined,
      systems: (await options.currentSystems?.(ctx)) ?? [],
    });
  },
  async postLogout(ctx: KoaContextWithOIDC) {
    const c = ctx as unknown as Context;
    const client = ctx.oidc.client;
    // client_id comes back only when the citizen chose to stay signed in to One-ID (end_session.js).
    if (client) {
      views.render(c, 'logged-out-client', { client: client.clientName ?? client.clientId });
      return;
    }
    views.render(c, 'logged-out', { systems: (await options.signedOutSystems?.(ctx)) ?? [] });
  },
});
