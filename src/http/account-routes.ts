// My One-ID: the citizen's own page, signed in through One-ID itself (see account-session.ts).
import type Router from '@koa/router';
import type { AccountService } from '../accounts/index.ts';
import type { PasskeyServiceLike } from './deps.ts';
import type { AccountSession } from './account-session.ts';
import type { Views } from './views.ts';

export const accountRoutes = (router: Router, { accountSession, accounts, passkeys, views }: { accountSession: AccountSession; accounts: AccountService; passkeys: PasskeyServiceLike; views: Views }) => {
  router.get('/account/login', (ctx) => {
    ctx.redirect(accountSession.loginUrl(ctx, typeof ctx.query.return_to === 'string' ? ctx.query.return_to : '/account'));
  });

  router.get('/account/callback', (ctx) => {
    ctx.redirect(accountSession.callback(ctx));
  });

  router.get('/account', async (ctx) => {
    const citizen = await accountSession.require(ctx);
    if (!citizen) return;
    const account = await accounts.findById(citizen.accountId);
    if (!account) return;
    views.render(ctx, 'account', { account, passkeys: await passkeys.listForAccount(citizen.accountId), acr: citizen.acr });
  });
};
