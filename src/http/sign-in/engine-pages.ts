// The engine's own pages (errors, logout confirmation, signed-out), rendered with our views.
import type { Context } from 'koa';
import type { EnginePages } from '../../oidc/index.ts';
import { createUnavailablePage } from '../middleware/unavailable.ts';
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

/** The engine's pages (src/oidc/engine-types.ts EnginePages): the engine's context is a koa one. */
export const createEnginePages = (views: Views): EnginePages => {
  const unavailable = createUnavailablePage(views);
  return {
    async error(ctx, out, uiLocales) {
      const c = ctx as unknown as Context;
      const t = translator(langOf(c, uiLocales));
      const code = engineErrorCode(out.error);
      views.render(
        c,
        'message',
        {
          heading: t(errorTitleKey(t, code, c.status)),
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
        { status: c.status, uiLocales },
      );
    },
    // The question names the system asking and every system the citizen would leave. With a
    // system asking, "no" still signs out of that system alone (the engine's end_session confirm
    // without logout=yes); without one, "stay signed in" changes nothing, so it is a plain link.
    async logout(ctx, { form, client, systems }) {
      views.render(ctx as unknown as Context, 'logout', { formHtml: form, client, systems });
    },
    async postLogout(ctx, { client, systems }) {
      const c = ctx as unknown as Context;
      if (client) {
        views.render(c, 'logged-out-client', { client });
        return;
      }
      views.render(c, 'logged-out', { systems });
    },
    unavailable: (ctx) => unavailable(ctx as unknown as Context),
  };
};
