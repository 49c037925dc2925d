// The engine's interaction pages: passkey sign-in (login prompt) and consent (consent prompt).
// The engine owns the protocol; these routes only authenticate the citizen and record consent.
import type Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { ACR, satisfiesAcr, type PasskeyServiceLike } from './deps.ts';
import { readBody, stringField } from './body.ts';
import type { Csrf } from './csrf.ts';
import type { State } from './security.ts';
import type { Views } from './views.ts';
import { clientView, consentItems } from './interaction-view.ts';
import { isFirstPartyClient } from './account-session.ts';
import { translator } from './messages.ts';
import { langOf } from './views.ts';

type Deps = {
  provider: () => Provider;
  passkeys: PasskeyServiceLike;
  agencyOf: (clientId: string) => Promise<string | undefined>;
  views: Views;
  csrf: Csrf;
};

export const interactionRoutes = (router: Router, { provider, passkeys, agencyOf, views, csrf }: Deps) => {
  const details = async (ctx: Context) => {
    const interaction = await provider().interactionDetails(ctx.req, ctx.res);
    // The URL's uid must be the interaction this browser's cookie holds.
    if (interaction.uid !== ctx.params.uid) throw Object.assign(new Error('interaction mismatch'), { status: 400, error: 'invalid_request', error_description: 'interaction mismatch' });
    return interaction;
  };

  /** Grants what the consent prompt asked for and resumes the authorization request. */
  const finishConsent = async (ctx: Context, interaction: Awaited<ReturnType<typeof details>>) => {
    const { prompt, params, session, grantId } = interaction;
    const { Grant } = provider();
    const grant = (grantId && (await Grant.find(grantId))) || new Grant({ accountId: session!.accountId, clientId: String(params.client_id) });
    const d = prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
    if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
    if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(d.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
    await provider().interactionFinished(ctx.req, ctx.res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
  };

  router.get('/interaction/:uid', async (ctx) => {
    const interaction = await details(ctx);
    const { prompt, params, uid } = interaction;
    const client = await provider().Client.find(String(params.client_id));
    const view = clientView(client, await agencyOf(String(params.client_id)));
    const uiLocales = params.ui_locales as string | undefined;
    if (prompt.name === 'login') {
      const stepUp = Boolean(params.acr_values) && !satisfiesAcr(ACR.substantial, params.acr_values as string);
      views.render(ctx, 'login', {
        client: view,
        stepUp,
        optionsUrl: `/interaction/${uid}/passkey/options`,
        verifyUrl: `/interaction/${uid}/passkey/verify`,
        abortUrl: `/interaction/${uid}/abort`,
      }, { uiLocales });
      return;
    }
    // One-ID's own pages need no consent: the citizen is using One-ID itself.
    if (isFirstPartyClient(String(params.client_id))) {
      await finishConsent(ctx, interaction);
      return;
    }
    (ctx.state as State).formAction = [new URL(String(params.redirect_uri)).origin];
    const t = translator(langOf(ctx, uiLocales));
    views.render(ctx, 'consent', { client: view, items: consentItems(prompt.details, t), submitUrl: `/interaction/${uid}/consent` }, { uiLocales });
  });

  router.post('/interaction/:uid/passkey/options', async (ctx) => {
    const body = await readBody(ctx);
    csrf.verify(ctx, body._csrf);
    const { uid, prompt } = await details(ctx);
    if (prompt.name !== 'login') throw Object.assign(new Error('not a login prompt'), { status: 400, error: 'invalid_request' });
    ctx.body = await passkeys.authenticationOptions(`interaction:${uid}`, stringField(body, 'identifier', 320) || undefined);
  });

  router.post('/interaction/:uid/passkey/verify', async (ctx) => {
    const body = await readBody(ctx);
    csrf.verify(ctx, body._csrf);
    const { uid, params } = await details(ctx);
    const result = await passkeys.verifyAuthentication(`interaction:${uid}`, body as never, { ip: ctx.ip });
    // A passkey proves `substantial`; a client that asked for more gets a clear error, not less.
    const outcome = satisfiesAcr(ACR.substantial, params.acr_values as string | undefined)
      ? { login: { accountId: result.accountId, acr: ACR.substantial, amr: result.amr, remember: true } }
      : { error: 'unmet_authentication_requirements', error_description: 'the requested acr_values need certificate sign-in' };
    ctx.body = { location: await provider().interactionResult(ctx.req, ctx.res, outcome, { mergeWithLastSubmission: false }) };
  });

  router.post('/interaction/:uid/consent', async (ctx) => {
    const body = await readBody(ctx);
    csrf.verify(ctx, body._csrf);
    const interaction = await details(ctx);
    const { prompt, session } = interaction;
    if (prompt.name !== 'consent' || !session) throw Object.assign(new Error('not a consent prompt'), { status: 400, error: 'invalid_request' });
    if (body.decision !== 'approve') {
      await provider().interactionFinished(ctx.req, ctx.res, { error: 'access_denied', error_description: 'the citizen declined to share the requested information' }, { mergeWithLastSubmission: false });
      return;
    }
    await finishConsent(ctx, interaction);
  });

  router.post('/interaction/:uid/abort', async (ctx) => {
    const body = await readBody(ctx);
    csrf.verify(ctx, body._csrf);
    await details(ctx);
    await provider().interactionFinished(ctx.req, ctx.res, { error: 'access_denied', error_description: 'the citizen cancelled the sign-in' }, { mergeWithLastSubmission: false });
  });
};
