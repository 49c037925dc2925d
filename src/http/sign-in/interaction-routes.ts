// The engine's interaction pages: passkey sign-in (login prompt) and consent (consent prompt).
// The engine owns the protocol; these routes only authenticate the citizen and record consent.
import type Router from '@koa/router';
import type { Context } from 'koa';
import { ACR, satisfiesAcr, type PasskeyServiceLike } from '../deps.ts';
import { readBody, stringField } from '../middleware/body.ts';
import type { Csrf } from '../middleware/csrf.ts';
import { signInCounter } from '../rate-limit/routes.ts';
import type { Metrics } from '../../observability/index.ts';
import type { State } from '../middleware/security.ts';
import type { Views } from '../render/views.ts';
import { clientView, inNaturalOrder, requestedFromParams } from './interaction-view.ts';
import { langOf } from '../render/views.ts';
import type { AccountService } from '../../accounts/index.ts';
import type { SystemDirectory } from '../../clients/index.ts';
import type { ConsentService } from '../../consent/index.ts';
import { isFirstPartyClient } from '../../clients/index.ts';
import type { OidcFacade } from '../../oidc/index.ts';
import { AppError } from '../../shared/index.ts';

type Deps = {
  /** The engine's facade: the interaction, and the ways it ends (src/oidc/interactions.ts). */
  interactions: OidcFacade['interactions'];
  passkeys: PasskeyServiceLike;
  agencyOf: (clientId: string) => Promise<string | undefined>;
  consent: ConsentService;
  accounts: AccountService;
  views: Views;
  csrf: Csrf;
  /** Counts passkey sign-ins (oneid_signins_total). */
  metrics: Pick<Metrics, 'observeSignIn'>;
  /** The login page's certificate section for an interaction; absent when certificate login is off. */
  certificateLogin?: ((uid: string) => object) | undefined;
  /** The systems' and agencies' English names, for the English consent page. */
  directory?: Pick<SystemDirectory, 'names'> | undefined;
};

export const interactionRoutes = (
  router: Router,
  {
    interactions,
    passkeys,
    agencyOf,
    consent,
    accounts,
    views,
    csrf,
    certificateLogin,
    metrics,
    directory,
  }: Deps,
) => {
  const details = (ctx: Context) => interactions.details(ctx);

  router.get('/interaction/:uid', async (ctx) => {
    const interaction = await details(ctx);
    const { prompt, params, uid, requiredAcr } = interaction;
    const client = await interactions.findClient(String(params.client_id));
    const uiLocales = params.ui_locales as string | undefined;
    // The English pages name the system and agency in English when they registered it (one
    // query, English pages only).
    const lang = langOf(ctx, uiLocales);
    const clientId = String(params.client_id);
    const names = lang === 'en' ? (await directory?.names([clientId]))?.get(clientId) : undefined;
    const view = clientView(client, await agencyOf(clientId), lang, names);
    if (prompt.name === 'login') {
      // A level a passkey cannot meet: the page leads with the certificate (step-up notice).
      const stepUp = !satisfiesAcr(ACR.substantial, requiredAcr);
      views.render(
        ctx,
        'login',
        {
          client: view,
          stepUp,
          // login_hint (OIDC Core 3.1.2.1) pre-fills the email/phone field; it is only a hint.
          loginHint: typeof params.login_hint === 'string' ? params.login_hint.slice(0, 320) : '',
          optionsUrl: `/interaction/${uid}/passkey/options`,
          verifyUrl: `/interaction/${uid}/passkey/verify`,
          abortUrl: `/interaction/${uid}/abort`,
          certificate: certificateLogin?.(uid),
        },
        { uiLocales },
      );
      return;
    }
    // One-ID's own pages need no consent: the citizen is using One-ID itself.
    if (isFirstPartyClient(String(params.client_id))) {
      await interactions.finishConsent(ctx);
      return;
    }
    const accountId = interaction.session!.accountId;
    const { pending } = await consent.evaluate(
      accountId,
      String(params.client_id),
      requestedFromParams(params),
    );
    (ctx.state as State).formAction = [new URL(String(params.redirect_uri)).origin];
    const account = await accounts.findById(accountId);
    views.render(
      ctx,
      'consent',
      {
        client: view,
        items: inNaturalOrder(pending),
        citizenName: account?.name ?? '',
        submitUrl: `/interaction/${uid}/consent`,
      },
      { uiLocales },
    );
  });

  /**
   * The sign-in counter and the interaction, read together with what the passkey ceremony reads
   * (one Redis round trip: issued in the same tick, auto-pipelined), deciding in that order; the
   * body and its CSRF token are checked before anything is read.
   */
  const checkedLogin = (ctx: Context) => {
    const counted = signInCounter(ctx);
    const found = details(ctx);
    return Promise.allSettled([counted, found]).then(([count, interaction]) => {
      if (count.status === 'rejected') throw count.reason;
      if (interaction.status === 'rejected') throw interaction.reason;
      return interaction.value;
    });
  };

  router.post('/interaction/:uid/passkey/options', async (ctx) => {
    const body = await readBody(ctx);
    csrf.verify(ctx, body._csrf);
    const checked = checkedLogin(ctx).then((interaction) => {
      if (interaction.prompt.name !== 'login')
        throw new AppError('ERR_INTERACTION_EXPIRED', 'not a login prompt', { status: 400 });
    });
    // ctx.params.uid: the interaction's, or the check refuses and nothing is stored.
    ctx.body = await passkeys.authenticationOptions(
      `interaction:${String(ctx.params.uid)}`,
      stringField(body, 'identifier', 320) || undefined,
      checked,
    );
  });

  router.post('/interaction/:uid/passkey/verify', async (ctx) => {
    const body = await readBody(ctx);
    csrf.verify(ctx, body._csrf);
    const checked = checkedLogin(ctx);
    // The attempt starts now (its reads go with the checks') and decides once they pass.
    const attempt = passkeys.verifyAuthentication(
      `interaction:${String(ctx.params.uid)}`,
      body as never,
      checked.then(({ params }) => ({ ip: ctx.ip, clientId: String(params.client_id) })),
    );
    attempt.catch(() => undefined); // answered below, or refused by the checks first
    // Refused by the checks (sign-in counter, interaction): not a passkey attempt in the metrics.
    await checked;
    const result = await metrics.observeSignIn('passkey', attempt);
    // A passkey proves `substantial`; a client that asked for more gets a clear error, not less.
    ctx.body = {
      location: await interactions.loginLocation(ctx, {
        accountId: result.accountId,
        acr: ACR.substantial,
        amr: result.amr,
        consent: result.consent,
      }),
    };
  });

  router.post('/interaction/:uid/consent', async (ctx) => {
    const body = await readBody(ctx);
    csrf.verify(ctx, body._csrf);
    const { prompt, session, params } = await details(ctx);
    if (prompt.name !== 'consent' || !session)
      throw new AppError('ERR_INTERACTION_EXPIRED', 'not a consent prompt', { status: 400 });
    if (body.decision !== 'approve') {
      await interactions.abort(
        ctx,
        'access_denied',
        'the citizen declined to share the requested information',
      );
      return;
    }
    const clientId = String(params.client_id);
    const requested = requestedFromParams(params);
    // Approving agrees to the required items; optional ones only when their box was checked.
    const checked = ([] as unknown[])
      .concat(body.claims ?? [])
      .filter((c): c is string => typeof c === 'string');
    const { pending } = await consent.evaluate(session.accountId, clientId, requested);
    const accepted = pending
      .filter((p) => p.required || checked.includes(p.claim))
      .map((p) => p.claim);
    await consent.decide(session.accountId, clientId, requested, accepted, { ip: ctx.ip });
    await interactions.finishConsent(ctx);
  });

  router.post('/interaction/:uid/abort', async (ctx) => {
    const body = await readBody(ctx);
    csrf.verify(ctx, body._csrf);
    await details(ctx);
    await interactions.abort(ctx, 'access_denied', 'the citizen cancelled the sign-in');
  });
};
