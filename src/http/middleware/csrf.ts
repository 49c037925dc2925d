// CSRF protection for every form and fetch of ours: pages embed a token and POSTs must return
// it (form field `_csrf` or header `X-CSRF-Token`). The token is an HMAC of a random
// per-browser secret (an HttpOnly, SameSite=Lax cookie, `__Host-` on https) AND of what the
// request acts for: the admin console session on /admin, the sign-in interaction on
// /interaction/…, else the One-ID session (My One-ID). A cookie planted by a sibling subdomain
// together with a token the attacker got for their own session is refused for the victim's
// session; cross-site pages can neither read the cookie nor compute the token.
import { createHmac } from 'node:crypto';
import type { Context } from 'koa';
import { AppError, hostCookie, randomToken, safeEqual } from '../../shared/index.ts';

/** The cookies a request's session lives in (their values are checked by their owners). */
export type SessionCookies = { admin: string; session: string; interaction: string };

export const createCsrf = ({
  key,
  secure,
  sessionCookies,
}: {
  key: string;
  secure: boolean;
  sessionCookies: SessionCookies;
}) => {
  const cookie = hostCookie('oneid_csrf', secure);
  /** What the token is bound to; pages without any session (enrolment links) bind to the browser only. */
  const bindingOf = (ctx: Context) => {
    const admin = /^\/admin(\/|$)/.test(ctx.path) && ctx.cookies.get(sessionCookies.admin);
    if (admin) return `admin:${admin}`;
    const interaction =
      ctx.path.startsWith('/interaction/') && ctx.cookies.get(sessionCookies.interaction);
    if (interaction) return `interaction:${interaction}`;
    const session = ctx.cookies.get(sessionCookies.session);
    return session ? `session:${session}` : 'browser';
  };
  const tokenFor = (ctx: Context, secret: string) =>
    createHmac('sha256', key)
      .update(`csrf\u0000${secret}\u0000${bindingOf(ctx)}`)
      .digest('base64url');
  const secretOf = (ctx: Context) => {
    let secret = ctx.cookies.get(cookie);
    if (!secret || !/^[\w-]{43}$/.test(secret)) {
      secret = randomToken(32);
      ctx.cookies.set(cookie, secret, {
        httpOnly: true,
        sameSite: 'lax',
        secure,
        path: '/',
        signed: false,
        overwrite: true,
      });
    }
    return secret;
  };
  return {
    /** The token a page embeds (sets the cookie when the browser has none yet). */
    token: (ctx: Context) => tokenFor(ctx, secretOf(ctx)),
    /** Throws 403 unless the request carries the token of its cookie and its session. */
    verify(ctx: Context, submitted: unknown) {
      const secret = ctx.cookies.get(cookie);
      const given = typeof submitted === 'string' ? submitted : ctx.get('x-csrf-token');
      if (!secret || !given || !safeEqual(given, tokenFor(ctx, secret))) {
        throw new AppError(
          'ERR_CSRF',
          'This form has expired. Please go back, reload the page and try again.',
          { status: 403 },
        );
      }
    },
  };
};

export type Csrf = ReturnType<typeof createCsrf>;
