// CSRF protection for every form and fetch of ours: a random per-browser secret in an
// HttpOnly, SameSite=Lax cookie, and a token derived from it (HMAC) that pages embed and
// POSTs must return (form field `_csrf` or header `X-CSRF-Token`). Cross-site pages can
// neither read the cookie nor compute the token.
import { createHmac } from 'node:crypto';
import type { Context } from 'koa';
import { AppError, randomToken, safeEqual } from '../shared/index.ts';

const COOKIE = 'oneid_csrf';

export const createCsrf = ({ key, secure }: { key: string; secure: boolean }) => {
  const tokenFor = (secret: string) =>
    createHmac('sha256', key).update(`csrf\u0000${secret}`).digest('base64url');
  const secretOf = (ctx: Context) => {
    let secret = ctx.cookies.get(COOKIE);
    if (!secret || !/^[\w-]{43}$/.test(secret)) {
      secret = randomToken(32);
      ctx.cookies.set(COOKIE, secret, {
        httpOnly: true,
        sameSite: 'lax',
        secure,
        signed: false,
        overwrite: true,
      });
    }
    return secret;
  };
  return {
    /** The token a page embeds (sets the cookie when the browser has none yet). */
    token: (ctx: Context) => tokenFor(secretOf(ctx)),
    /** Throws 403 unless the request carries the token matching its cookie. */
    verify(ctx: Context, submitted: unknown) {
      const secret = ctx.cookies.get(COOKIE);
      const given = typeof submitted === 'string' ? submitted : ctx.get('x-csrf-token');
      if (!secret || !given || !safeEqual(given, tokenFor(secret))) {
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
