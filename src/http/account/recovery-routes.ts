// Sign-in methods on My One-ID: register a new passkey, remove lost ones; add a certificate
// (signed challenge, when certificate login is on), rename and unlink certificates.
// Two doors lead here: `/account/security` after a recent (10 minutes) sign-in at `substantial` or
// more (a passkey or certificate: a `low` upstream sign-in never adds or changes a way in), and
// `/account/recover` after a recent certificate sign-in (`high`) for a citizen whose phone is lost.
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { AccountService } from '../../accounts/index.ts';
import type { RecoveryService } from '../../auth/certificate/index.ts';
import { AppError } from '../../shared/index.ts';
import type { AccountSession } from './account-session.ts';
import { readBody, stringField } from '../middleware/body.ts';
import type { Csrf } from '../middleware/csrf.ts';
import { ACR, satisfiesAcr } from '../deps.ts';
import { translator } from '../render/messages.ts';
import { langOf, type Views } from '../render/views.ts';

/** How recent the sign-in must be, in seconds. */
export const RECOVERY_MAX_AGE_SECONDS = 600;

/** Where the pages live and what sign-in they need. */
export const SIGN_IN_METHOD_PAGES = {
  security: { base: '/account/security', acr: ACR.substantial, title: 'security.title' },
  recover: { base: '/account/recover', acr: ACR.high, title: 'recovery.title' },
} as const;

type Deps = {
  accountSession: AccountSession;
  accounts: AccountService;
  recovery: RecoveryService;
  views: Views;
  csrf: Csrf;
  page: (typeof SIGN_IN_METHOD_PAGES)[keyof typeof SIGN_IN_METHOD_PAGES];
};

const DONE = new Set(['registered', 'removed', 'unlinked', 'linked', 'already-linked', 'renamed']);

/** How the citizen signed in, from the session's amr (RFC 8176 and One-ID's `x509`, `fed`). */
const signedInWith = (amr: readonly string[]) =>
  amr.includes('x509')
    ? 'certificate'
    : amr.includes('fed')
      ? 'upstream'
      : amr.includes('hwk') || amr.includes('swk')
        ? 'passkey'
        : 'other';

const deviceName = (userAgent: string) => {
  const os = /Android|iPhone|iPad|Windows|Mac OS X|Linux|CrOS/.exec(userAgent)?.[0] ?? 'device';
  return `Passkey (${os.replace('Mac OS X', 'macOS')})`;
};

export const recoveryRoutes = (
  router: Router,
  { accountSession, accounts, recovery, views, csrf, page }: Deps,
) => {
  const { base } = page;
  const requirement = { ...(page.acr && { acr: page.acr }), maxAge: RECOVERY_MAX_AGE_SECONDS };
  /** For POSTs and fetches: the signed-in account, or a 401 (a redirect would lose the request). */
  const recentCitizen = async (ctx: Context) => {
    const citizen = await accountSession.current(ctx);
    const fresh = citizen && Date.now() / 1000 - citizen.loginTs <= RECOVERY_MAX_AGE_SECONDS;
    const account =
      citizen && fresh && satisfiesAcr(citizen.acr, page.acr)
        ? await accounts.findById(citizen.accountId)
        : undefined;
    if (!account || account.status !== 'active') {
      // Recovery needs a certificate sign-in; the security page a passkey or certificate one.
      if (page.acr === ACR.high)
        throw new AppError(
          'ERR_RECOVERY_SIGN_IN_REQUIRED',
          'Please sign in with your certificate again to manage your passkeys.',
          { status: 401 },
        );
      throw new AppError(
        'ERR_SECURITY_SIGN_IN_REQUIRED',
        'Please sign in again with a passkey or certificate to manage your sign-in methods.',
        { status: 401 },
      );
    }
    return account;
  };

  router.get(base, async (ctx) => {
    const citizen = await accountSession.require(ctx, requirement);
    if (!citizen) return;
    const account = await accounts.findById(citizen.accountId);
    if (!account) return;
    const { passkeys, certificates } = await recovery.overview(account.id);
    const t = translator(langOf(ctx));
    const done =
      typeof ctx.query.done === 'string' && DONE.has(ctx.query.done)
        ? t(`recovery.done.${ctx.query.done}`)
        : undefined;
    views.render(ctx, 'recovery', {
      account,
      passkeys,
      certificates,
      done,
      // Removing the last passkey is offered only while a certificate remains as a way in.
      canRemoveLast: certificates.length > 0,
      titleKey: page.title,
      signedInWith: signedInWith(citizen.amr),
      removeUrl: `${base}/passkeys/remove`,
      unlinkUrl: `${base}/certificates/remove`,
      renameUrl: `${base}/certificates/rename`,
      // The login page's signed-challenge markup and script (one-id.js), bound to the account.
      certificate: recovery.linking && {
        challengeUrl: `${base}/certificate/challenge`,
        verifyUrl: `${base}/certificate/verify`,
      },
      optionsUrl: `${base}/passkey/options`,
      verifyUrl: `${base}/passkey/verify`,
    });
  });

  router.post(`${base}/passkey/options`, async (ctx) => {
    const body = await readBody(ctx);
    csrf.verify(ctx, body._csrf);
    ctx.body = await recovery.registrationOptions(await recentCitizen(ctx));
  });

  router.post(`${base}/passkey/verify`, async (ctx) => {
    const body = await readBody(ctx);
    csrf.verify(ctx, body._csrf);
    await recovery.registerPasskey(
      await recentCitizen(ctx),
      body as never,
      deviceName(ctx.get('user-agent')),
    );
    ctx.body = { location: `${base}?done=registered` };
  });

  router.post(`${base}/passkeys/remove`, async (ctx) => {
    const body = await readBody(ctx);
    csrf.verify(ctx, body._csrf);
    const account = await recentCitizen(ctx);
    await recovery.removePasskey(account.id, stringField(body, 'credential', 1000) ?? '', {
      ip: ctx.ip,
    });
    ctx.status = 303;
    ctx.redirect(`${base}?done=removed`);
  });

  router.post(`${base}/certificates/remove`, async (ctx) => {
    const body = await readBody(ctx);
    csrf.verify(ctx, body._csrf);
    const account = await recentCitizen(ctx);
    await recovery.removeCertificate(account.id, stringField(body, 'fingerprint', 200) ?? '', {
      ip: ctx.ip,
    });
    ctx.status = 303;
    ctx.redirect(`${base}?done=unlinked`);
  });

  router.post(`${base}/certificates/rename`, async (ctx) => {
    const body = await readBody(ctx);
    csrf.verify(ctx, body._csrf);
    const account = await recentCitizen(ctx);
    await recovery.renameCertificate(
      account.id,
      stringField(body, 'fingerprint', 200) ?? '',
      stringField(body, 'label', 1000) ?? '',
      { ip: ctx.ip },
    );
    ctx.status = 303;
    ctx.redirect(`${base}?done=renamed`);
  });

  // Adding a certificate (docs/certificates.md, "Adding and renaming certificates"): only when
  // certificate login is on. The nonce is bound to the account, not to a login interaction.
  const linking = recovery.linking;
  if (!linking) return;

  router.post(`${base}/certificate/challenge`, async (ctx) => {
    const body = await readBody(ctx);
    csrf.verify(ctx, body._csrf);
    ctx.body = await linking.issueChallenge((await recentCitizen(ctx)).id);
  });

  router.post(`${base}/certificate/verify`, async (ctx) => {
    const body = await readBody(ctx);
    csrf.verify(ctx, body._csrf);
    const account = await recentCitizen(ctx);
    const { status } = await linking.link(account.id, stringField(body, 'jws', 64 * 1024), {
      ip: ctx.ip,
    });
    const location = `${base}?done=${status}`;
    // The page's fetch gets { location }; the plain form (no script) a redirect. Refusals: the
    // error middleware ({ code, message } or a readable page).
    if (ctx.is('application/json') === 'application/json') ctx.body = { location };
    else {
      ctx.status = 303;
      ctx.redirect(location);
    }
  });
};
