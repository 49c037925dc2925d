// Sign-in through upstream identity providers on the interaction pages (docs/federation.md):
// the login page's list of upstreams, the redirect there, the one fixed callback, the linking
// page (passkey proof, confirmed match, self-enrolment, or another One-ID sign-in), and
// unlinking on My One-ID. A failing upstream gives a readable page whose link leads back to
// the still-open sign-in, where every other method keeps working.
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Logger } from 'pino';
import type { FederatedLogin, FederationModule } from '../../federation/index.ts';
import type { OidcFacade } from '../../oidc/index.ts';
import { AppError, isAppError } from '../../shared/index.ts';
import type { AccountSession } from '../account/account-session.ts';
import { readBody, stringField } from '../middleware/body.ts';
import { RECOVERY_MAX_AGE_SECONDS } from '../account/recovery-routes.ts';
import type { Csrf } from '../middleware/csrf.ts';
import { ACR, satisfiesAcr, type PasskeyServiceLike } from '../deps.ts';
import { translator } from '../render/messages.ts';
import { langOf, type Views } from '../render/views.ts';

type Deps = {
  interactions: OidcFacade['interactions'];
  federation: FederationModule;
  passkeys: PasskeyServiceLike;
  accountSession: AccountSession;
  views: Views;
  csrf: Csrf;
  log: Logger;
  /** Whether certificate login is on: the linking page then offers "sign in another way". */
  certificateLogin: boolean;
};

/** What login.eta's federation block shows (views/federation-login.eta). */
type LoginSection = {
  upstreams: {
    id: string;
    name: { ko: string; en: string };
    logoUri: string | undefined;
    url: string;
  }[];
  linking: { ko: string; en: string } | undefined;
};
type FederationState = { federationLogin?: LoginSection | undefined };

const FEDERATION_ERRORS = new Set([
  'ERR_UPSTREAM_UNKNOWN',
  'ERR_UPSTREAM_UNAVAILABLE',
  'ERR_UPSTREAM_REJECTED',
  'ERR_UPSTREAM_DENIED',
  'ERR_UPSTREAM_ACR',
  'ERR_FEDERATION_EXPIRED',
  'ERR_FEDERATION_ALREADY_LINKED',
  'ERR_FEDERATION_NO_ENROLMENT',
  'ERR_ACCOUNT_DISABLED',
]);

/**
 * Registers the routes and returns the views the interaction routes render with: the same
 * views, with the login page given its federation section (loaded before the page renders).
 */
export const federationRoutes = (
  router: Router,
  { interactions, federation, passkeys, accountSession, views, csrf, log, certificateLogin }: Deps,
): Views => {
  const interaction = (ctx: Context) => interactions.details(ctx, { loginOnly: true });

  /** The login result, or the engine's error when the client asked for more than was proven. */
  const finish = (ctx: Context, login: FederatedLogin) => interactions.finishLogin(ctx, login);

  /** A federation failure as a page with the way back to the open sign-in; anything else goes on up. */
  const refusalPage = async (ctx: Context, uid: string, step: () => Promise<void>) => {
    try {
      await step();
    } catch (error) {
      if (!isAppError(error) || !FEDERATION_ERRORS.has(error.code)) throw error;
      // The language the client asked for (OIDC Core 3.1.2.1 ui_locales), as on the sign-in page.
      const details = await interaction(ctx).catch(() => undefined);
      const uiLocales = details?.params.ui_locales as string | undefined;
      const t = translator(langOf(ctx, uiLocales));
      if (error.status >= 500)
        log.warn(
          { code: error.code, reqId: ctx.state.reqId },
          'sign-in through an upstream failed',
        );
      views.render(
        ctx,
        'federation-error',
        { message: t(`err.${error.code}`), code: error.code, retryUrl: `/interaction/${uid}` },
        { status: error.status, uiLocales },
      );
    }
  };

  // The login page's section, loaded before interaction-routes renders it. Never breaks the
  // page: upstreams come from our own database (their metadata is fetched only on a click).
  router.get('/interaction/:uid', async (ctx, next) => {
    try {
      // A mismatched or expired interaction is the page's own error to show. The pending link
      // is asked for with it (one Redis round trip for both), used only on the login prompt.
      const [details, pendingLink] = await Promise.all([
        interactions.details(ctx).catch(() => undefined),
        federation.login.pendingLinkOptions(ctx.params.uid!).catch(() => undefined),
      ]);
      if (details?.prompt.name === 'login') {
        const uid = details.uid;
        const [active, pending] = await Promise.all([
          federation.upstreams.activeForLogin(),
          uid === ctx.params.uid
            ? pendingLink
            : federation.login.pendingLinkOptions(uid).catch(() => undefined),
        ]);
        (ctx.state as FederationState).federationLogin = {
          upstreams: active
            .filter((u) => satisfiesAcr(u.acr, details.requiredAcr))
            .map((u) => ({
              id: u.id,
              name: u.displayName,
              logoUri: u.logoUri ?? undefined,
              url: `/interaction/${uid}/upstream/${u.id}`,
            })),
          linking: pending?.awaitingSignIn ? pending.upstream.name : undefined,
        };
      }
    } catch (error) {
      log.warn(
        { err: error, reqId: ctx.state.reqId },
        'federation section of the sign-in page left out',
      );
    }
    await next();
  });

  router.get('/interaction/:uid/upstream/:id', async (ctx) => {
    const { uid, params, requiredAcr } = await interaction(ctx);
    await refusalPage(ctx, uid, async () => {
      ctx.redirect(
        await federation.login.start(uid, ctx.params.id!, {
          acrValues: requiredAcr,
          uiLocales: params.ui_locales as string | undefined,
        }),
      );
    });
  });

  // The one redirect URI registered at every upstream. The interaction cookie is scoped to
  // /interaction/<uid>, so the callback hands the answer over there, where the browser's own
  // interaction is checked against the one the state was issued for before the code is redeemed.
  router.get('/federation/callback', async (ctx) => {
    const uid = await federation.login.flowInteraction(ctx.query.state);
    if (!uid)
      throw new AppError(
        'ERR_INTERACTION_EXPIRED',
        'this sign-in has expired; please start again',
        {
          status: 400,
        },
      );
    ctx.redirect(`/interaction/${uid}/federation/return?${ctx.querystring}`);
  });

  router.get('/interaction/:uid/federation/return', async (ctx) => {
    const { uid } = await interaction(ctx);
    await refusalPage(ctx, uid, async () => {
      const outcome = await federation.login.complete(uid, new URLSearchParams(ctx.querystring), {
        ip: ctx.ip,
      });
      if (outcome.kind === 'signed-in') await finish(ctx, outcome.login);
      else ctx.redirect(`/interaction/${uid}/federation/link`);
    });
  });

  router.get('/interaction/:uid/federation/link', async (ctx) => {
    const { uid, params } = await interaction(ctx);
    await refusalPage(ctx, uid, async () => {
      const link = await federation.login.linkOptions(uid);
      const base = `/interaction/${uid}/federation/link`;
      views.render(
        ctx,
        'federation-link',
        {
          link,
          optionsUrl: `${base}/passkey/options`,
          verifyUrl: `${base}/passkey/verify`,
          confirmUrl: `${base}/confirm`,
          enrolUrl: `${base}/enrol`,
          signInUrl: certificateLogin ? `${base}/sign-in` : undefined,
          abortUrl: `/interaction/${uid}/abort`,
        },
        { uiLocales: params.ui_locales as string | undefined },
      );
    });
  });

  // Proof 1: the passkey of an existing account (the sign-in ceremony, bound to this linking).
  router.post('/interaction/:uid/federation/link/passkey/options', async (ctx) => {
    const body = await readBody(ctx);
    csrf.verify(ctx, body._csrf);
    const { uid } = await interaction(ctx);
    ctx.body = await passkeys.authenticationOptions(
      `federation:${uid}`,
      stringField(body, 'identifier', 320) || undefined,
    );
  });

  router.post('/interaction/:uid/federation/link/passkey/verify', async (ctx) => {
    const body = await readBody(ctx);
    csrf.verify(ctx, body._csrf);
    const { uid } = await interaction(ctx);
    const proof = await passkeys.verifyAuthentication(`federation:${uid}`, body as never, {
      ip: ctx.ip,
    });
    const login = await federation.login.linkWithProof(
      uid,
      { accountId: proof.accountId, acr: ACR.substantial, amr: proof.amr, method: 'passkey' },
      { ip: ctx.ip },
    );
    ctx.body = {
      location: await interactions.loginLocation(ctx, login),
    };
  });

  // Proof 2: any One-ID sign-in in this interaction (e.g. a certificate); linked when it ends (src/oidc/provider.ts).
  router.post('/interaction/:uid/federation/link/sign-in', async (ctx) => {
    const body = await readBody(ctx);
    csrf.verify(ctx, body._csrf);
    const { uid } = await interaction(ctx);
    await refusalPage(ctx, uid, async () => {
      await federation.login.deferToSignIn(uid);
      ctx.status = 303;
      ctx.redirect(`/interaction/${uid}`);
    });
  });

  router.post('/interaction/:uid/federation/link/confirm', async (ctx) => {
    const body = await readBody(ctx);
    csrf.verify(ctx, body._csrf);
    const { uid } = await interaction(ctx);
    await refusalPage(ctx, uid, async () =>
      finish(ctx, await federation.login.confirmMatch(uid, { ip: ctx.ip })),
    );
  });

  router.post('/interaction/:uid/federation/link/enrol', async (ctx) => {
    const body = await readBody(ctx);
    csrf.verify(ctx, body._csrf);
    const { uid } = await interaction(ctx);
    await refusalPage(ctx, uid, async () =>
      finish(ctx, await federation.login.enrol(uid, { ip: ctx.ip })),
    );
  });

  // My One-ID: unlinking changes the ways in, so it needs a fresh sign-in at `substantial` or more
  // (never only a low-level upstream), like every change on /account/security.
  router.post('/account/federation/:id/remove', async (ctx) => {
    const body = await readBody(ctx);
    csrf.verify(ctx, body._csrf);
    const citizen = await accountSession.require(ctx, {
      acr: ACR.substantial,
      maxAge: RECOVERY_MAX_AGE_SECONDS,
    });
    if (!citizen) return;
    await federation.login.unlink(citizen.accountId, ctx.params.id!, { ip: ctx.ip });
    ctx.redirect('/account?done=unlinked');
  });
  // Where a step-up for the form above returns to: back to the page (the citizen presses again).
  router.get('/account/federation/:id/remove', (ctx) => ctx.redirect('/account#federation'));

  return {
    ...views,
    render: (ctx, view, data = {}, options = {}) =>
      views.render(
        ctx,
        view,
        view === 'login'
          ? { ...data, federation: (ctx.state as FederationState).federationLogin }
          : data,
        options,
      ),
  };
};
