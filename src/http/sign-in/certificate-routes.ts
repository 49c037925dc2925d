// Certificate sign-in on the interaction pages: the signed challenge (JSON, or a pasted JWS in
// a form), the hand-over to and back from the mutual-TLS listener, the reverse proxy's
// forwarded certificate, and self-enrolment for a valid certificate with no account yet.
// Every successful path ends like the passkey routes: a login result at `high`.
import type Router from '@koa/router';
import type { Context } from 'koa';
import {
  isCertificateError,
  isTrustedProxy,
  type CertificateLoginService,
  type CertificateOutcome,
} from '../../auth/certificate/index.ts';
import type { OidcFacade } from '../../oidc/index.ts';
import { AppError, isAppError } from '../../shared/index.ts';
import { ACR } from '../deps.ts';
import { readBody, stringField } from '../middleware/body.ts';
import type { Csrf } from '../middleware/csrf.ts';
import { translator } from '../render/messages.ts';
import { langOf, type Views } from '../render/views.ts';

/** How this deployment offers the certificate on the login page. */
export type CertificateLoginOptions = {
  /** https://<issuer host>:CERT_LOGIN_PORT/certificate/tls when the mutual-TLS listener runs. */
  tlsLoginUrl: string | undefined;
  /** TRUSTED_PROXIES: when set, the proxy's forwarded certificate may be used. */
  trustedProxies: readonly string[];
  /** CERT_HEADER (lowercase); the chain comes in `<header>-chain`. */
  header: string;
};

type Deps = {
  interactions: OidcFacade['interactions'];
  certificates: CertificateLoginService;
  certificateOptions: CertificateLoginOptions;
  views: Views;
  csrf: Csrf;
};

/** What the login page needs to show the certificate section (undefined: certificate login is off). */
export const certificateLoginView = (options: CertificateLoginOptions, uid: string) => {
  const base = `/interaction/${uid}/certificate`;
  return {
    challengeUrl: `${base}/challenge`,
    verifyUrl: `${base}/verify`,
    // One "certificate in this browser" button: the mutual-TLS listener when it runs, else the
    // proxy route (the proxy asked for the certificate during its own TLS handshake).
    tlsUrl: options.tlsLoginUrl ? `${base}/tls` : undefined,
    proxyUrl:
      !options.tlsLoginUrl && options.trustedProxies.length > 0 ? `${base}/proxy` : undefined,
  };
};

export const certificateRoutes = (
  router: Router,
  { interactions, certificates, certificateOptions, views, csrf }: Deps,
) => {
  /** The login interaction this browser's cookie holds, which must be the URL's. */
  const loginInteraction = (ctx: Context) => interactions.details(ctx, { loginOnly: true });

  /** The client address for the audit: X-Forwarded-For only when the TCP peer is a trusted proxy. */
  const clientIp = (ctx: Context) => {
    const peer = ctx.req.socket.remoteAddress ?? '';
    return isTrustedProxy(peer, certificateOptions.trustedProxies) ? ctx.ip : peer;
  };

  /** A certificate proves `high`; the same end as every other method (src/oidc/interactions.ts). */
  const proven = (accountId: string, amr: string[]) => ({ accountId, acr: ACR.high, amr });

  /** Ends the step: sign-in (JSON `{ location }` or a redirect), or on to the enrolment page. */
  const finish = async (ctx: Context, uid: string, outcome: CertificateOutcome, json: boolean) => {
    if (outcome.kind === 'enrol') {
      const location = `/interaction/${uid}/certificate/enrol`;
      if (json) ctx.body = { location };
      else {
        ctx.status = 303;
        ctx.redirect(location);
      }
      return;
    }
    await loginInteraction(ctx);
    const login = proven(outcome.accountId, outcome.amr);
    if (json) ctx.body = { location: await interactions.loginLocation(ctx, login) };
    else await interactions.finishLogin(ctx, login);
  };

  /**
   * A refused certificate on a page (not a fetch): the reason, and the way back to the sign-in
   * page, whose interaction is still open (another method may work).
   */
  const refusalPage = async (ctx: Context, uid: string, step: () => Promise<void>) => {
    try {
      await step();
    } catch (error) {
      if (!isCertificateError(error)) throw error;
      const t = translator(langOf(ctx));
      views.render(
        ctx,
        'certificate-error',
        { message: t(`err.${error.code}`), code: error.code, retryUrl: `/interaction/${uid}` },
        { status: error.status },
      );
    }
  };

  // Proof 1: signed challenge.
  router.post('/interaction/:uid/certificate/challenge', async (ctx) => {
    const body = await readBody(ctx);
    csrf.verify(ctx, body._csrf);
    const { uid } = await loginInteraction(ctx);
    ctx.body = await certificates.issueChallenge(uid);
  });

  router.post('/interaction/:uid/certificate/verify', async (ctx) => {
    const body = await readBody(ctx);
    csrf.verify(ctx, body._csrf);
    const { uid, params } = await loginInteraction(ctx);
    const json = ctx.is('application/json') === 'application/json';
    const signIn = async () =>
      finish(
        ctx,
        uid,
        await certificates.signInWithChallenge(uid, stringField(body, 'jws', 64 * 1024), {
          ip: clientIp(ctx),
          clientId: String(params.client_id),
        }),
        json,
      );
    // The page's fetch gets { code, message }; the plain form (no script) a page.
    if (json) await signIn();
    else await refusalPage(ctx, uid, signIn);
  });

  // Proof 2: TLS client authentication on the dedicated listener, bridged by a single-use ticket.
  router.post('/interaction/:uid/certificate/tls', async (ctx) => {
    const body = await readBody(ctx);
    csrf.verify(ctx, body._csrf);
    const { uid } = await loginInteraction(ctx);
    if (!certificateOptions.tlsLoginUrl)
      throw new AppError('ERR_NOT_FOUND', 'not found', { status: 404 });
    const ticket = await certificates.issueTlsTicket(uid);
    ctx.status = 303;
    ctx.redirect(`${certificateOptions.tlsLoginUrl}?ticket=${ticket}`);
  });

  router.get('/interaction/:uid/certificate/complete', async (ctx) => {
    const { uid } = await loginInteraction(ctx);
    await refusalPage(ctx, uid, async () =>
      finish(ctx, uid, await certificates.completeTls(uid, ctx.query.ticket), false),
    );
  });

  // Proof 3: the TLS handshake happened at a trusted reverse proxy.
  router.get('/interaction/:uid/certificate/proxy', async (ctx) => {
    const { uid, params } = await loginInteraction(ctx);
    // The TCP peer, never X-Forwarded-For; headersDistinct keeps every line of a repeated
    // header apart (ctx.headers would join them into one value).
    const distinct = ctx.req.headersDistinct;
    await refusalPage(ctx, uid, async () => {
      const outcome = await certificates.signInWithForwarded(
        uid,
        {
          peer: ctx.req.socket.remoteAddress ?? '',
          values: distinct[certificateOptions.header],
          chainValues: distinct[`${certificateOptions.header}-chain`],
        },
        { ip: clientIp(ctx), clientId: String(params.client_id) },
      );
      await finish(ctx, uid, outcome, false);
    });
  });

  // Self-enrolment: a valid certificate with no account yet.
  const renderEnrol = async (ctx: Context, uid: string, error?: string) => {
    const pending = await certificates.pendingEnrolment(uid);
    if (!pending)
      throw new AppError(
        'ERR_CERT_ENROLMENT_EXPIRED',
        'This certificate sign-in has expired. Please sign in with your certificate again.',
        { status: 410 },
      );
    views.render(
      ctx,
      'certificate-enrol',
      {
        certificate: {
          subject: pending.subject,
          issuer: pending.issuer,
          notAfter: pending.notAfter.slice(0, 10),
          name: pending.name,
          birthdate: pending.birthdate,
        },
        submitUrl: `/interaction/${uid}/certificate/enrol`,
        abortUrl: `/interaction/${uid}/abort`,
        error,
      },
      { status: error ? 400 : 200 },
    );
  };

  router.get('/interaction/:uid/certificate/enrol', async (ctx) => {
    const { uid } = await loginInteraction(ctx);
    await renderEnrol(ctx, uid);
  });

  router.post('/interaction/:uid/certificate/enrol', async (ctx) => {
    const body = await readBody(ctx);
    csrf.verify(ctx, body._csrf);
    const { uid, params } = await loginInteraction(ctx);
    try {
      const { accountId, amr } = await certificates.completeEnrolment(
        uid,
        { name: stringField(body, 'name', 200), birthdate: stringField(body, 'birthdate', 10) },
        { ip: clientIp(ctx), clientId: String(params.client_id) },
      );
      await interactions.finishLogin(ctx, proven(accountId, amr));
    } catch (error) {
      // A missing or impossible value: the same form again, saying which.
      if (!isAppError(error) || error.code !== 'ERR_INVALID_CITIZEN') throw error;
      const t = translator(langOf(ctx));
      await renderEnrol(
        ctx,
        uid,
        t(`enrol.certificate.invalid.${String(error.details?.field ?? 'name')}`),
      );
    }
  });
};
