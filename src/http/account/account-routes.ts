// My One-ID: the citizen's own page, signed in through One-ID itself (see account-session.ts):
// connected systems, the data each received and the consents behind it (withdrawable),
// passkeys and certificates, sessions and recent activity.
import type Router from '@koa/router';
import type { AccountService } from '../../accounts/index.ts';
import type { RecoveryService } from '../../auth/certificate/index.ts';
import type { ConsentEnding, MyDataService } from '../../consent/index.ts';
import type { SessionService } from '../../sessions/index.ts';
import type { FederationModule } from '../../federation/index.ts';
import type { SystemDirectory } from '../../clients/index.ts';
import type { AccountSession } from './account-session.ts';
import { readBody, stringField } from '../middleware/body.ts';
import type { Csrf } from '../middleware/csrf.ts';
import type { PasskeyServiceLike } from '../deps.ts';
import { translator, type Lang } from '../render/messages.ts';
import { langOf, type Views } from '../render/views.ts';

type Deps = {
  accountSession: AccountSession;
  accounts: AccountService;
  passkeys: PasskeyServiceLike;
  /** Withdrawal ends the consent: grants revoked, client signed out, sources told (src/consent). */
  consentEnding: Pick<ConsentEnding, 'withdraw'>;
  myData: MyDataService;
  views: Views;
  csrf: Csrf;
  /** Whether certificate login (and so certificate recovery) is on. */
  certificateLogin?: boolean;
  /** The citizen's linked certificates, listed next to the passkeys (managed on /account/security). */
  signInMethods?: Pick<RecoveryService, 'certificates'> | undefined;
  /** The citizen's sessions for the page's sessions section (views/partials/account-sessions.eta). */
  sessions?: SessionService | undefined;
  /** Linked sign-in services and agency links (views/partials/account-federation.eta). */
  federation?: Pick<FederationModule, 'overview'> | undefined;
  /** The systems' and agencies' names in both languages (the English page names them in English). */
  directory?: Pick<SystemDirectory, 'names'> | undefined;
};

const DONE = new Set(['withdrawn', 'not-found', 'renamed', 'session-ended', 'unlinked']);

type Named = { clientId: string; name: string; agency: string };

export const accountRoutes = (router: Router, deps: Deps) => {
  const { accountSession, accounts, passkeys, consentEnding, myData, views, csrf } = deps;

  /** What My One-ID lists, each system and agency named in the page's language. */
  const overviewIn = async (
    accountId: string,
    lang: Lang,
    sessions?: Awaited<ReturnType<SessionService['listActive']>>,
  ) => {
    const data = await myData.overview(accountId);
    const ids = [
      ...data.systems.map((s) => s.clientId),
      ...data.consents.map((c) => c.clientId),
      ...data.activity.flatMap((a) => (a.clientId ? [a.clientId] : [])),
      ...(sessions ?? []).flatMap((x) => x.systems.map((y) => y.clientId)),
    ];
    const names = (await deps.directory?.names(ids)) ?? new Map();
    const named = <T extends Named>(x: T): T => {
      const n = names.get(x.clientId);
      return n ? { ...x, name: n.name[lang], agency: n.agency[lang] } : x;
    };
    return {
      systems: data.systems.map(named),
      consents: data.consents.map(named),
      activity: data.activity.map((a) => ({
        ...a,
        system: a.clientId ? (names.get(a.clientId)?.name[lang] ?? a.clientId) : undefined,
      })),
      sessions: sessions?.map((x) => ({
        ...x,
        systems: x.systems.map((y) => ({
          ...y,
          name: names.get(y.clientId)?.name[lang] ?? y.name,
        })),
      })),
    };
  };

  router.get('/account/login', (ctx) => {
    ctx.redirect(
      accountSession.loginUrl(
        ctx,
        typeof ctx.query.return_to === 'string' ? ctx.query.return_to : '/account',
      ),
    );
  });

  router.get('/account/callback', (ctx) => {
    ctx.redirect(accountSession.callback(ctx));
  });

  router.get('/account/cancelled', (ctx) => {
    const t = translator(langOf(ctx));
    views.render(ctx, 'message', {
      heading: t('account.cancelled.title'),
      message: t('account.cancelled.body'),
      next: [{ href: '/account/login', label: t('account.cancelled.again') }],
    });
  });

  router.get('/account', async (ctx) => {
    const citizen = await accountSession.require(ctx);
    if (!citizen) return;
    const account = await accounts.findById(citizen.accountId);
    if (!account) return;
    const lang = langOf(ctx);
    const t = translator(lang);
    const done =
      typeof ctx.query.done === 'string' && DONE.has(ctx.query.done)
        ? t(`account.done.${ctx.query.done}`)
        : undefined;
    views.render(ctx, 'account', {
      account,
      done,
      passkeys: await passkeys.listForAccount(citizen.accountId),
      certificateLogin: Boolean(deps.certificateLogin),
      certificates: (await deps.signInMethods?.certificates(citizen.accountId)) ?? [],
      ...(await overviewIn(
        citizen.accountId,
        lang,
        await deps.sessions?.listActive(citizen.accountId, citizen.sessionUid),
      )),
      federation: await deps.federation?.overview(citizen.accountId),
    });
  });

  // Withdrawing asks first, on its own page (no script needed): what stops, what happens to
  // the data already shared (it stays with the agency: PIPA art. 36-37 requests go there).
  router.get('/account/consents/:id/withdraw', async (ctx) => {
    const citizen = await accountSession.require(ctx);
    if (!citizen) return;
    const { consents } = await overviewIn(citizen.accountId, langOf(ctx));
    const record = consents.find((c) => c.id === ctx.params.id);
    if (!record) {
      ctx.redirect('/account?done=not-found');
      return;
    }
    views.render(ctx, 'withdraw', { consent: record });
  });

  router.post('/account/consents/:id/withdraw', async (ctx) => {
    const body = await readBody(ctx);
    csrf.verify(ctx, body._csrf);
    const citizen = await accountSession.require(ctx);
    if (!citizen) return;
    // At once: every token issued under this consent stops working, then the client is told.
    const record = await consentEnding.withdraw(citizen.accountId, ctx.params.id!, { ip: ctx.ip });
    // Another account's consent, an unknown id or one already withdrawn: nothing changed.
    ctx.redirect(record ? '/account?done=withdrawn' : '/account?done=not-found');
  });

  router.post('/account/passkeys/:id/rename', async (ctx) => {
    const body = await readBody(ctx);
    csrf.verify(ctx, body._csrf);
    const citizen = await accountSession.require(ctx);
    if (!citizen) return;
    await passkeys.rename(citizen.accountId, ctx.params.id!, stringField(body, 'name', 200) ?? '');
    ctx.redirect('/account?done=renamed');
  });
};
