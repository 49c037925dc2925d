// Account recovery (My One-ID): after a certificate sign-in at `high` within the last 10
// minutes, the citizen registers a new passkey and removes lost ones.
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { AccountService } from '../accounts/index.ts';
import type { RecoveryService } from '../auth/certificate/index.ts';
import { AppError } from '../shared/index.ts';
import type { AccountSession } from './account-session.ts';
import { readBody, stringField } from './body.ts';
import type { Csrf } from './csrf.ts';
import { ACR, satisfiesAcr } from './deps.ts';
import { translator } from './messages.ts';
import { langOf, type Views } from './views.ts';

/** How recent the certificate sign-in must be, in seconds. */
export const RECOVERY_MAX_AGE_SECONDS = 600;
const REQUIREMENT = { acr: ACR.high, maxAge: RECOVERY_MAX_AGE_SECONDS };

type Deps = { accountSession: AccountSession; accounts: AccountService; recovery: RecoveryService; views: Views; csrf: Csrf };

const deviceName = (userAgent: string) => {
  const os = /Android|iPhone|iPad|Windows|Mac OS X|Linux|CrOS/.exec(userAgent)?.[0] ?? 'device';
  return `Passkey (${os.replace('Mac OS X', 'macOS')})`;
};

export const recoveryRoutes = (router: Router, { accountSession, accounts, recovery, views, csrf }: Deps) => {
  /** For POSTs and fetches: the signed-in account, or a 401 (a redirect would lose the request). */
  const recentCitizen = async (ctx: Context) => {
    const citizen = await accountSession.current(ctx);
    const fresh = citizen && Date.now() / 1000 - citizen.loginTs <= RECOVERY_MAX_AGE_SECONDS;
    const account = citizen && fresh && satisfiesAcr(citizen.acr, ACR.high) ? await accounts.findById(citizen.accountId) : undefined;
    if (!account || account.status !== 'active') {
      throw new AppError('ERR_RECOVERY_SIGN_IN_REQUIRED', 'Please sign in with your certificate again to manage your passkeys.', { status: 401 });
    }
    return account;
  };

  router.get('/account/recover', async (ctx) => {
    const citizen = await accountSession.require(ctx, REQUIREMENT);
    if (!citizen) return;
    const account = await accounts.findById(citizen.accountId);
    if (!account) return;
    const { passkeys, certificates } = await recovery.overview(account.id);
    const t = translator(langOf(ctx));
    const done = ctx.query.done === 'registered' || ctx.query.done === 'removed' ? t(`recovery.done.${ctx.query.done}`) : undefined;
    views.render(ctx, 'recovery', {
      account,
      passkeys,
      certificates,
      done,
      // Removing the last passkey is offered only while a certificate remains as a way in.
      canRemoveLast: certificates.length > 0,
      removeUrl: '/account/recover/passkeys/remove',
      optionsUrl: '/account/recover/passkey/options',
      verifyUrl: '/account/recover/passkey/verify',
    });
  });

  router.post('/account/recover/passkey/options', async (ctx) => {
    const body = await readBody(ctx);
    csrf.verify(ctx, body._csrf);
    ctx.body = await recovery.registrationOptions(await recentCitizen(ctx));
  });

  router.post('/account/recover/passkey/verify', async (ctx) => {
    const body = await readBody(ctx);
    csrf.verify(ctx, body._csrf);
    await recovery.registerPasskey(await recentCitizen(ctx), body as never, deviceName(ctx.get('user-agent')));
    ctx.body = { location: '/account/recover?done=registered' };
  });

  router.post('/account/recover/passkeys/remove', async (ctx) => {
    const body = await readBody(ctx);
    csrf.verify(ctx, body._csrf);
    const account = await recentCitizen(ctx);
    await recovery.removePasskey(account.id, stringField(body, 'credential', 1000) ?? '', { ip: ctx.ip });
    ctx.status = 303;
    ctx.redirect('/account/recover?done=removed');
  });
};
