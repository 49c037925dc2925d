// The admin console (/admin): server-rendered pages, Korean first (?lang=en), no script, a CSRF
// token in every form. Sign-in is One-ID's own (src/http/admin/console/session.ts); every rule is in
// src/admin, shared with the API and the CLI. This file: sign-in, home and agency systems;
// src/http/admin/console/pages.ts: audit, agencies, administrators and registration tokens;
// src/http/admin/console/upstreams.ts: upstream identity providers.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type Router from '@koa/router';
import type { Context } from 'koa';
import {
  isPlatform,
  readableAgencies,
  type AdminModule,
  type Principal,
} from '../../../admin/index.ts';
import type { AdminConfig } from '../../../config/config.ts';
import { isAppError } from '../../../shared/index.ts';
import type { CatalogueItem } from '../../../consent/index.ts';
import type { UpstreamService } from '../../../federation/index.ts';
import type { AuditRecord } from '../../../audit/index.ts';
import { auditRows, type AuditNameSources, type AuditRow } from './audit-view.ts';
import { adminConsoleClientForm } from './client-form.ts';
import { adminConsoleClientPage } from './client-page.ts';
import { adminConsolePages } from './pages.ts';
import { adminConsoleUpstreams } from './upstreams.ts';
import { safeAdminPath, type ConsoleSession } from './session.ts';
import { readBody } from '../../middleware/body.ts';
import type { Csrf } from '../../middleware/csrf.ts';
import { translator } from '../../render/messages.ts';
import { langOf, type Views } from '../../render/views.ts';

export type ConsoleDeps = {
  admin: AdminModule;
  session: ConsoleSession;
  views: Views;
  csrf: Csrf;
  settings: AdminConfig;
  issuer: string;
  accountName: (accountId: string) => Promise<string | undefined>;
  /** The claims catalogue: the console names data items by its labels (claim names second). */
  claims?: (() => Promise<CatalogueItem[]>) | undefined;
  /** Upstream identity providers (federation): the console's page for them when present. */
  upstreams?: UpstreamService | undefined;
  /** Systems' names for the audit log (one query per page of records). */
  systemNames?: AuditNameSources['systemNames'];
};

export type ConsoleUser = { p: Principal; name: string };
export type ConsoleKit = {
  signedIn: (ctx: Context, returnTo?: string) => Promise<ConsoleUser | undefined>;
  render: (
    ctx: Context,
    user: ConsoleUser,
    view: string,
    data?: Record<string, unknown>,
    status?: number,
  ) => void;
  post: (
    path: string,
    returnTo: (ctx: Context) => string,
    handler: (ctx: Context, user: ConsoleUser, body: Record<string, unknown>) => Promise<void>,
  ) => void;
  done: (ctx: Context) => string | undefined;
  /** Audit records as the audit table shows them (names, labels, before -> after). */
  auditRows: (user: ConsoleUser, records: AuditRecord[]) => Promise<AuditRow[]>;
  canChange: (ctx: Context, user: ConsoleUser) => Promise<boolean>;
};

const CSS = readFileSync(
  fileURLToPath(new URL('../../../../views/admin/admin.css', import.meta.url)),
);
const DONE = new Set([
  'created',
  'requested',
  'updated',
  'enabled',
  'reenabled',
  'returned',
  'disabled',
  'deleted',
  'saved',
  'revoked',
  'upstream-created',
  'upstream-updated',
  'upstream-enabled',
  'upstream-disabled',
]);

export const adminConsoleRoutes = (router: Router, deps: ConsoleDeps) => {
  const { admin, session, views, csrf } = deps;

  const kit: ConsoleKit = {
    /** The signed-in administrator, or undefined after sending the browser to sign in. */
    async signedIn(ctx, returnTo) {
      const user = await session.current(ctx);
      // No session, or one below ADMIN_MIN_ACR (checked on every request): sign in (again) at
      // the level, which the login URL asks for.
      if (!user || !user.strongEnough) {
        ctx.redirect(await session.loginUrl(ctx, returnTo ?? ctx.originalUrl));
        return undefined;
      }
      if (!user.principal) {
        views.render(
          ctx,
          'message',
          {
            heading: translator(langOf(ctx))('admin.title'),
            message: translator(langOf(ctx))('err.ERR_NOT_ADMIN'),
            code: 'ERR_NOT_ADMIN',
          },
          { status: 403 },
        );
        return undefined;
      }
      return { p: user.principal, name: (await deps.accountName(user.accountId)) ?? '' };
    },
    render(ctx, user, view, data = {}, status = 200) {
      const { p } = user;
      views.render(
        ctx,
        `admin/${view}`,
        {
          ...data,
          me: {
            name: user.name,
            grants: p.grants,
            platform: isPlatform(p),
            global: readableAgencies(p) === undefined,
            writes: p.grants.some((g) => g.role !== 'auditor'),
            upstreams: isPlatform(p) && Boolean(deps.upstreams),
          },
          section: ctx.path.split('/')[2] ?? '',
        },
        { status },
      );
    },
    post(path, returnTo, handler) {
      router.post(path, async (ctx) => {
        // The system form holds five fields per catalogue item (the body stays within 64 KiB).
        const body = await readBody(ctx, { fields: 1000 });
        csrf.verify(ctx, body._csrf);
        const user = await kit.signedIn(ctx, returnTo(ctx));
        if (!user) return;
        try {
          await handler(ctx, user, body);
        } catch (error) {
          // Changes need a recent sign-in (ADMIN_REAUTH_SECONDS): sign in again, then come back.
          if (
            isAppError(error) &&
            (error.code === 'ERR_REAUTH_REQUIRED' || error.code === 'ERR_STEP_UP_REQUIRED')
          ) {
            ctx.redirect(await session.loginUrl(ctx, returnTo(ctx)));
            return;
          }
          throw error;
        }
      });
    },
    done: (ctx) =>
      typeof ctx.query.done === 'string' && DONE.has(ctx.query.done)
        ? translator(langOf(ctx))(`admin.done.${ctx.query.done}`)
        : undefined,
    auditRows: (user, records) => auditRows(deps, user.p, records),
    /** A form page for a change: an old sign-in is renewed first (rather than losing the typing later). */
    async canChange(ctx, user) {
      try {
        admin.guard.change(user.p);
        return true;
      } catch (error) {
        if (!isAppError(error) || error.code !== 'ERR_REAUTH_REQUIRED') throw error;
        ctx.redirect(await session.loginUrl(ctx, ctx.originalUrl));
        return false;
      }
    },
  };

  router.get('/admin/admin.css', (ctx) => {
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.type = 'text/css; charset=utf-8';
    ctx.body = CSS;
  });

  router.get('/admin/login', async (ctx) => {
    ctx.redirect(await session.loginUrl(ctx, safeAdminPath(ctx.query.return_to)));
  });

  router.get('/admin/callback', async (ctx) => {
    ctx.redirect(await session.callback(ctx));
  });

  router.post('/admin/logout', async (ctx) => {
    const body = await readBody(ctx);
    csrf.verify(ctx, body._csrf);
    await session.logout(ctx);
    const t = translator(langOf(ctx));
    views.render(ctx, 'admin/signed-out', {
      heading: t('admin.title'),
      message: t('admin.signedout'),
    });
  });

  router.get('/admin', async (ctx) => {
    const user = await kit.signedIn(ctx);
    if (!user) return;
    kit.render(ctx, user, 'home', { settings: deps.settings });
  });

  // --- Agency systems ---
  router.get('/admin/clients', async (ctx) => {
    const user = await kit.signedIn(ctx);
    if (!user) return;
    const filter = {
      agency:
        typeof ctx.query.agency === 'string' && ctx.query.agency ? ctx.query.agency : undefined,
      status: ['draft', 'active', 'disabled'].includes(String(ctx.query.status))
        ? (ctx.query.status as 'draft')
        : undefined,
    };
    const page = await admin.registry.list(user.p, {
      ...filter,
      after: typeof ctx.query.after === 'string' ? ctx.query.after : undefined,
      limit: 50,
    });
    const nextUrl = page.next
      ? `/admin/clients?${new URLSearchParams({ ...(filter.agency && { agency: filter.agency }), ...(filter.status && { status: filter.status }), after: page.next })}`
      : undefined;
    kit.render(ctx, user, 'clients', {
      page,
      filter,
      nextUrl,
      done: kit.done(ctx),
      agencies: (await admin.admins.listAgencies(user.p, { limit: 200 })).items,
    });
  });

  /** The claims catalogue for the pages: data items are named by their labels, claim names second. */
  const catalogue = async () => (await deps.claims?.()) ?? [];
  const claimLabels = async () =>
    Object.fromEntries((await catalogue()).map((i) => [i.name, i.label]));

  const detail = (ctx: Context) => `/admin/clients/${encodeURIComponent(ctx.params.id!)}`;

  kit.post('/admin/clients/:id/rotate-secret', detail, async (ctx, user) => {
    const { clientSecret, previousValidUntil } = await admin.registry.rotateSecret(
      user.p,
      ctx.params.id!,
    );
    const client = await admin.registry.get(user.p, ctx.params.id!);
    kit.render(ctx, user, 'secret', { client, secret: clientSecret, previousValidUntil });
  });

  adminConsoleClientForm(router, deps, kit, catalogue);
  adminConsoleClientPage(router, deps, kit, claimLabels);
  adminConsolePages(router, deps, kit);
  if (deps.upstreams) adminConsoleUpstreams(router, { ...deps, upstreams: deps.upstreams }, kit);
};
