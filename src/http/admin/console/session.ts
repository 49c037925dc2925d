// The admin console signs administrators in through One-ID itself: it is the first-party OIDC
// client `one-id-admin` (authorization code + PKCE S256, `prompt=login` so every console session
// starts with a fresh sign-in, `acr_values` = ADMIN_MIN_ACR so it is a passkey or certificate
// one: a `low` upstream sign-in never opens the console; the level is checked again on every
// request, src/admin/roles.ts). The code is redeemed in process with the
// engine's own AuthorizationCode model (client, redirect URI, PKCE, single use), which yields
// the account, acr, amr and auth_time without a loopback HTTP call to our own token endpoint.
//
// The console session is ours, short and server-side (the cookie holds only a random id):
// ADMIN_SESSION_IDLE_SECONDS / ADMIN_SESSION_ABSOLUTE_SECONDS. Roles are read on every request,
// so a revoked role takes effect at once; changes need a sign-in within ADMIN_REAUTH_SECONDS
// (src/admin/roles.ts), otherwise the console sends the administrator to sign in again.
import { createHash } from 'node:crypto';
import type { Context } from 'koa';
import type { OidcFacade } from '../../../oidc/index.ts';
import { stepUpRequired, type AdminService, type Principal } from '../../../admin/index.ts';
import type { AuditService } from '../../../audit/index.ts';
import type { AdminConfig } from '../../../config/config.ts';
import { ADMIN_CLIENT_ID } from '../../../clients/index.ts';
import { acrRank } from '../../deps.ts';
import { AppError, hostCookie, randomToken, safeEqual, sha256 } from '../../../shared/index.ts';
import type { KvStore } from '../../../store/index.ts';

/** The console session's cookie (`__Host-` on https, so Path=/). */
export const adminSessionCookie = (https: boolean) => hostCookie('oneid_admin', https);

type Stored = {
  accountId: string;
  authTime: number;
  acr?: string | undefined;
  amr?: string[] | undefined;
  createdAt: number;
};
export type ConsoleUser = Stored & {
  /** Whether the session's sign-in reached ADMIN_MIN_ACR (else the console asks for a step-up). */
  strongEnough: boolean;
  principal: Principal | undefined;
};

/** Only console paths are valid places to come back to. */
export const safeAdminPath = (value: unknown) =>
  typeof value === 'string' &&
  /^\/admin(\/[\w\-/.%]*)?(\?[\w=&%.+-]*)?$/.test(value) &&
  !/^\/admin\/(api|callback|login|logout)\b/.test(value) &&
  !value.includes('..')
    ? value
    : '/admin';

type Deps = {
  tokens: Pick<OidcFacade['tokens'], 'findAuthorizationCode'>;
  issuer: string;
  kv: KvStore;
  secure: boolean;
  settings: AdminConfig;
  admins: AdminService;
  audit: AuditService;
};

export const createConsoleSession = ({
  tokens,
  issuer,
  kv,
  secure,
  settings,
  admins,
  audit,
}: Deps) => {
  const redirectUri = `${issuer}/admin/callback`;
  const SESSION_COOKIE = adminSessionCookie(secure);
  const LOGIN_COOKIE = hostCookie('oneid_admin_login', secure);
  const cookie = { httpOnly: true, secure, path: '/', overwrite: true } as const;
  const key = (id: string) => `admin-session:${sha256(id)}`;

  const fail = (message: string) => new AppError('ERR_ADMIN_SIGN_IN', message, { status: 400 });

  /** Where to send the browser to sign in; `returnTo` is a console path. */
  const loginUrl = async (ctx: Context, returnTo: string) => {
    const state = randomToken(16);
    const verifier = randomToken(32);
    await kv.set(
      `admin-login:${state}`,
      JSON.stringify({ verifier, returnTo: safeAdminPath(returnTo) }),
      900,
    );
    ctx.cookies.set(LOGIN_COOKIE, state, { ...cookie, sameSite: 'lax', maxAge: 900_000 });
    const url = new URL('/auth', issuer);
    url.search = new URLSearchParams({
      client_id: ADMIN_CLIENT_ID,
      response_type: 'code',
      scope: 'openid',
      redirect_uri: redirectUri,
      state,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
      // Every console session (and every step-up for a change) is a fresh sign-in, at the level
      // the administration requires (the login page offers only methods that reach it).
      prompt: 'login',
      acr_values: settings.minAcr,
    }).toString();
    return url.toString();
  };

  const principalOf = (ctx: Context, s: Stored) =>
    admins.principalFor(s.accountId, {
      via: 'console',
      ip: ctx.ip,
      authTime: s.authTime,
      acr: s.acr,
    });

  return {
    loginUrl,

    /** Completes /admin/callback; returns the console path to go to. */
    async callback(ctx: Context): Promise<string> {
      const state = ctx.cookies.get(LOGIN_COOKIE);
      ctx.cookies.set(LOGIN_COOKIE, '', { ...cookie, sameSite: 'lax', maxAge: 0 });
      if (!state || typeof ctx.query.state !== 'string' || !safeEqual(ctx.query.state, state))
        throw fail('the sign-in could not be completed; please try again');
      const saved = await kv.take(`admin-login:${state}`);
      if (!saved) throw fail('the sign-in took too long; please try again');
      const { verifier, returnTo } = JSON.parse(saved) as { verifier: string; returnTo: string };
      if (typeof ctx.query.error === 'string') throw fail('the sign-in was not completed');
      const value = typeof ctx.query.code === 'string' ? ctx.query.code : '';
      // What the token endpoint checks for a public client: the code's client, redirect URI,
      // expiry (find), single use, and PKCE (RFC 7636 4.6).
      const code = await tokens.findAuthorizationCode(value);
      if (
        !code ||
        code.clientId !== ADMIN_CLIENT_ID ||
        code.redirectUri !== redirectUri ||
        !code.isValid
      )
        throw fail('the sign-in could not be completed; please try again');
      if (
        code.codeChallengeMethod !== 'S256' ||
        !safeEqual(
          code.codeChallenge ?? '',
          createHash('sha256').update(verifier).digest('base64url'),
        )
      )
        throw fail('the sign-in could not be completed; please try again');
      await code.consume();
      const stored: Stored = {
        accountId: code.accountId!,
        authTime: code.authTime ?? Math.floor(Date.now() / 1000),
        acr: code.acr,
        amr: code.amr,
        createdAt: Date.now(),
      };
      // The engine asked for the level (acr_values); a code below it opens nothing all the same.
      if (acrRank(stored.acr) < acrRank(settings.minAcr)) {
        await audit.record({
          action: 'admin.sign-in.refused',
          actor: `account:${stored.accountId}`,
          ip: ctx.ip,
          details: { reason: 'level of assurance too low', acr: stored.acr },
        });
        throw stepUpRequired(settings.minAcr);
      }
      const principal = await principalOf(ctx, stored);
      if (!principal) {
        await audit.record({
          action: 'admin.sign-in.refused',
          actor: `account:${stored.accountId}`,
          ip: ctx.ip,
          details: { reason: 'no administrator role' },
        });
        throw new AppError('ERR_NOT_ADMIN', 'this account has no administrator role', {
          status: 403,
        });
      }
      const id = randomToken(32);
      await kv.set(key(id), JSON.stringify(stored), settings.sessionIdleSeconds);
      ctx.cookies.set(SESSION_COOKIE, id, { ...cookie, sameSite: 'strict' });
      await audit.record({
        action: 'admin.signed-in',
        actor: principal.actor,
        ip: ctx.ip,
        details: { acr: stored.acr, amr: stored.amr, roles: principal.grants },
      });
      return returnTo;
    },

    /** The console session of this browser (sliding idle timeout, capped by the absolute one). */
    async current(ctx: Context): Promise<ConsoleUser | undefined> {
      const id = ctx.cookies.get(SESSION_COOKIE);
      if (!id || !/^[\w-]{43}$/.test(id)) return undefined;
      const saved = await kv.get(key(id));
      if (!saved) return undefined;
      const stored = JSON.parse(saved) as Stored;
      const left = Math.floor(
        (stored.createdAt + settings.sessionAbsoluteSeconds * 1000 - Date.now()) / 1000,
      );
      if (left <= 0) {
        await kv.del(key(id));
        return undefined;
      }
      await kv.set(key(id), saved, Math.min(settings.sessionIdleSeconds, left));
      return {
        ...stored,
        strongEnough: acrRank(stored.acr) >= acrRank(settings.minAcr),
        principal: await principalOf(ctx, stored),
      };
    },

    async logout(ctx: Context): Promise<string | undefined> {
      const id = ctx.cookies.get(SESSION_COOKIE);
      ctx.cookies.set(SESSION_COOKIE, '', { ...cookie, sameSite: 'strict', maxAge: 0 });
      if (!id) return undefined;
      const saved = await kv.take(key(id));
      if (!saved) return undefined;
      const { accountId } = JSON.parse(saved) as Stored;
      await audit.record({ action: 'admin.signed-out', actor: `admin:${accountId}`, ip: ctx.ip });
      return accountId;
    },
  };
};

export type ConsoleSession = ReturnType<typeof createConsoleSession>;
