// The citizen's own pages (My One-ID, recovery) are signed in through One-ID itself: they
// start an authorization request for the first-party client `one-id-account` and then rely on
// the One-ID SSO session that sign-in created. Sensitive pages can demand a level of
// assurance (step-up with acr_values) and a recent sign-in (max_age).
import type { Context } from 'koa';
import { createHash } from 'node:crypto';
import { satisfiesAcr } from '../deps.ts';
import type { OidcFacade } from '../../oidc/index.ts';
import { AppError, hostCookie, randomToken } from '../../shared/index.ts';

import { ACCOUNT_CLIENT_ID } from '../../clients/index.ts';

export { ACCOUNT_CLIENT_ID };

export type SignedInCitizen = {
  accountId: string;
  acr: string | undefined;
  amr: string[];
  loginTs: number;
  sessionUid: string;
  exp: number;
};

/** The session's idle and absolute lifetimes (SESSION_IDLE_SECONDS, SESSION_ABSOLUTE_SECONDS). */
export type SessionLifetimes = { idleSeconds: number; absoluteSeconds: number };

/**
 * Reading the session does not renew it (only the engine's own requests do), so a citizen busy
 * on My One-ID would time out. Once less than half the idle time is left, and a renewal would
 * add at least a quarter of it (it cannot pass the absolute lifetime), a GET goes through a
 * silent authorization (prompt=none), which renews the session and its cookie.
 */
const wantsRenewal = (citizen: SignedInCitizen, lifetimes: SessionLifetimes, now: number) => {
  const left = citizen.exp - now;
  const renewed = Math.min(
    lifetimes.idleSeconds,
    citizen.loginTs + lifetimes.absoluteSeconds - now,
  );
  return left < lifetimes.idleSeconds / 2 && renewed - left >= lifetimes.idleSeconds / 4;
};

const safeReturnTo = (value: unknown) =>
  typeof value === 'string' && /^\/account(\/[\w\-/]*)?(\?[\w=&%-]*)?$/.test(value)
    ? value
    : '/account';

export const createAccountSession = ({
  interactions,
  issuer,
  secure,
  lifetimes,
}: {
  interactions: Pick<OidcFacade['interactions'], 'currentSession'>;
  issuer: string;
  secure: boolean;
  lifetimes: SessionLifetimes;
}) => {
  const redirectUri = `${issuer}/account/callback`;
  const STATE_COOKIE = hostCookie('oneid_account_state', secure);

  /** The signed-in citizen of this browser's One-ID session, if any. */
  const current = async (ctx: Context): Promise<SignedInCitizen | undefined> => {
    const session = await interactions.currentSession(ctx);
    if (!session.accountId) return undefined;
    return {
      accountId: session.accountId,
      acr: session.acr,
      amr: session.amr ?? [],
      loginTs: session.loginTs ?? 0,
      sessionUid: session.uid,
      exp: session.exp ?? 0,
    };
  };

  /** Where to send the browser to sign in (optionally at a level and with a fresh sign-in). */
  const loginUrl = (
    ctx: Context,
    options: {
      returnTo: string;
      acr?: string | undefined;
      maxAge?: number | undefined;
      silent?: boolean;
    },
  ) => {
    const state = randomToken(16);
    ctx.cookies.set(STATE_COOKIE, `${state}.${options.returnTo}`, {
      httpOnly: true,
      sameSite: 'lax',
      secure,
      maxAge: 15 * 60_000,
      overwrite: true,
    });
    const url = new URL('/auth', issuer);
    url.search = new URLSearchParams({
      client_id: ACCOUNT_CLIENT_ID,
      response_type: 'code',
      scope: 'openid',
      redirect_uri: redirectUri,
      state,
      // PKCE is mandatory for every client; this client never redeems its code (the SSO
      // session is what it uses), so the verifier is simply not kept.
      code_challenge: createHash('sha256').update(randomToken(32)).digest('base64url'),
      code_challenge_method: 'S256',
      ...(options.acr && { acr_values: options.acr }),
      ...(options.maxAge !== undefined && { max_age: String(options.maxAge) }),
      ...(options.silent && { prompt: 'none' }),
    }).toString();
    return url.toString();
  };

  return {
    current,
    redirectUri,
    /**
     * The signed-in citizen, or undefined after redirecting the browser to sign in (when there
     * is no session, the session is below `acr`, or the sign-in is older than `maxAge` seconds).
     */
    async require(
      ctx: Context,
      options: { acr?: string; maxAge?: number } = {},
    ): Promise<SignedInCitizen | undefined> {
      const citizen = await current(ctx);
      const fresh =
        options.maxAge === undefined ||
        (citizen && Date.now() / 1000 - citizen.loginTs <= options.maxAge);
      if (citizen && satisfiesAcr(citizen.acr, options.acr) && fresh) {
        if (
          ctx.method !== 'GET' ||
          !wantsRenewal(citizen, lifetimes, Math.floor(Date.now() / 1000))
        )
          return citizen;
        ctx.redirect(loginUrl(ctx, { returnTo: safeReturnTo(ctx.originalUrl), silent: true }));
        return undefined;
      }
      ctx.redirect(
        loginUrl(ctx, {
          returnTo: safeReturnTo(ctx.originalUrl),
          acr: options.acr,
          maxAge: fresh ? undefined : 0,
        }),
      );
      return undefined;
    },
    loginUrl: (ctx: Context, returnTo: string) =>
      loginUrl(ctx, { returnTo: safeReturnTo(returnTo) }),
    /** Completes /account/callback: checks state, returns where to go next (or throws). */
    callback(ctx: Context): string {
      const saved = ctx.cookies.get(STATE_COOKIE);
      ctx.cookies.set(STATE_COOKIE, '', {
        httpOnly: true,
        sameSite: 'lax',
        secure,
        maxAge: 0,
        overwrite: true,
      });
      const [state, ...rest] = (saved ?? '').split('.');
      if (!state || ctx.query.state !== state)
        throw new AppError(
          'ERR_INTERACTION_EXPIRED',
          'the sign-in could not be completed; please try again',
          { status: 400 },
        );
      // A silent renewal that found the session gone in the meantime: back to the page, which
      // asks for a sign-in.
      if (ctx.query.error === 'login_required') return safeReturnTo(rest.join('.'));
      // The citizen pressed "cancel" on the sign-in page: not an error, a choice.
      if (ctx.query.error === 'access_denied') return '/account/cancelled';
      if (typeof ctx.query.error === 'string')
        throw new AppError('ERR_SIGN_IN_NOT_COMPLETED', 'the sign-in was not completed', {
          status: 400,
          details: { error: ctx.query.error.slice(0, 64) },
        });
      return safeReturnTo(rest.join('.'));
    },
  };
};

export type AccountSession = ReturnType<typeof createAccountSession>;
