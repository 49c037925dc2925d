// Console pages beyond agency systems: the audit log (search, export), agencies,
// administrators' roles and dynamic-registration tokens. Same service layer as the API.
import { Readable } from 'node:stream';
import type Router from '@koa/router';
import type { Context } from 'koa';
import {
  auditCsvLine,
  auditJson,
  AUDIT_CSV_COLUMNS,
  isPlatform,
  type AuditQuery,
} from '../../../admin/index.ts';
import { auditActions } from './audit-view.ts';
import { formErrors, formStatus } from './forms.ts';
import type { ConsoleDeps, ConsoleKit, ConsoleUser } from './routes.ts';
import { stringField } from '../../middleware/body.ts';
import { translator } from '../../render/messages.ts';
import { langOf } from '../../render/views.ts';

const str = (ctx: Context, name: string) =>
  typeof ctx.query[name] === 'string' && ctx.query[name] ? (ctx.query[name] as string) : undefined;

// <input type="datetime-local"> sends local time without a zone; the console works in KST.
const kst = (value: string | undefined) =>
  value && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(value) ? `${value}:00+09:00` : value;

export const adminConsolePages = (
  router: Router,
  { admin, issuer, settings }: ConsoleDeps,
  kit: ConsoleKit,
) => {
  // --- Audit log ---
  const auditQuery = (ctx: Context): AuditQuery => ({
    action: str(ctx, 'action'),
    actor: str(ctx, 'actor'),
    subject: str(ctx, 'subject'),
    agency: str(ctx, 'agency'),
    from: kst(str(ctx, 'from')),
    to: kst(str(ctx, 'to')),
  });
  const filterParams = (ctx: Context) =>
    Object.fromEntries(
      ['action', 'actor', 'subject', 'agency', 'from', 'to'].flatMap((k) =>
        str(ctx, k) ? [[k, str(ctx, k)!]] : [],
      ),
    );

  router.get('/admin/audit', async (ctx) => {
    const user = await kit.signedIn(ctx);
    if (!user) return;
    const params = filterParams(ctx);
    let page;
    let errors;
    try {
      page = await admin.audit.search(user.p, {
        ...auditQuery(ctx),
        after: str(ctx, 'after'),
        limit: 50,
      });
    } catch (error) {
      errors = formErrors(error, translator(langOf(ctx)));
      if (!errors) throw error;
    }
    const nextUrl = page?.next
      ? `/admin/audit?${new URLSearchParams({ ...params, after: page.next })}`
      : undefined;
    const exportUrl = (format: string) =>
      `/admin/audit/export?${new URLSearchParams({ ...params, format })}`;
    kit.render(
      ctx,
      user,
      'audit',
      {
        params,
        rows: await kit.auditRows(user, page?.items ?? []),
        actions: auditActions(),
        nextUrl,
        exportUrl,
        errors,
      },
      errors ? 400 : 200,
    );
  });

  router.get('/admin/audit/export', async (ctx) => {
    const user = await kit.signedIn(ctx);
    if (!user) return;
    const format = str(ctx, 'format') === 'csv' ? 'csv' : 'jsonl';
    const q = auditQuery(ctx);
    await admin.audit.search(user.p, { ...q, limit: 1 }); // checks the filters before streaming
    const records = admin.audit.export(user.p, q);
    ctx.type = format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson';
    ctx.set('Content-Disposition', `attachment; filename="one-id-audit.${format}"`);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = Readable.from(
      (async function* lines() {
        if (format === 'csv') yield `\uFEFF${AUDIT_CSV_COLUMNS.join(',')}\r\n`;
        for await (const r of records)
          yield format === 'csv' ? auditCsvLine(r) : `${JSON.stringify(auditJson(r))}\n`;
      })(),
    );
  });

  // --- Agencies ---
  const agencies = async (
    ctx: Context,
    user: ConsoleUser,
    extra: Record<string, unknown> = {},
    status = 200,
  ) => {
    const page = await admin.admins.listAgencies(user.p, { after: str(ctx, 'after'), limit: 100 });
    kit.render(
      ctx,
      user,
      'agencies',
      {
        page,
        nextUrl: page.next ? `/admin/agencies?after=${page.next}` : undefined,
        done: kit.done(ctx),
        ...extra,
      },
      status,
    );
  };
  router.get('/admin/agencies', async (ctx) => {
    const user = await kit.signedIn(ctx);
    if (user) await agencies(ctx, user);
  });
  kit.post(
    '/admin/agencies',
    () => '/admin/agencies',
    async (ctx, user, body) => {
      const input = {
        name: stringField(body, 'name', 200) ?? '',
        ...(stringField(body, 'name_en', 200) && { name_en: stringField(body, 'name_en', 200) }),
        ...(stringField(body, 'contact', 320) && { contact: stringField(body, 'contact', 320) }),
      };
      try {
        await admin.admins.putAgency(user.p, input);
        ctx.redirect('/admin/agencies?done=saved');
      } catch (error) {
        const errors = formErrors(error, translator(langOf(ctx)));
        if (!errors) throw error;
        await agencies(ctx, user, { errors, values: input }, formStatus(error));
      }
    },
  );

  // --- Administrators ---
  const admins = async (
    ctx: Context,
    user: ConsoleUser,
    extra: Record<string, unknown> = {},
    status = 200,
  ) => {
    const page = await admin.admins.listGrants(user.p, { after: str(ctx, 'after'), limit: 100 });
    const agencyList = await admin.admins.listAgencies(user.p, { limit: 200 });
    // Names, not account UUIDs; and the accounts a search by name or email finds, to pick from.
    const granters = page.items.flatMap((g) => /^admin:(.+)$/.exec(g.grantedBy)?.[1] ?? []);
    const names = await admin.admins.accountNames(user.p, {
      admins: [...page.items.map((g) => g.accountId), ...granters],
      accounts: [],
    });
    const q = str(ctx, 'q');
    const found = q && isPlatform(user.p) ? await admin.admins.findAccounts(user.p, q) : undefined;
    kit.render(
      ctx,
      user,
      'admins',
      {
        page,
        names: Object.fromEntries(names),
        q,
        found,
        agencies: agencyList.items,
        nextUrl: page.next ? `/admin/admins?after=${page.next}` : undefined,
        done: kit.done(ctx),
        ...extra,
      },
      status,
    );
  };
  router.get('/admin/admins', async (ctx) => {
    const user = await kit.signedIn(ctx);
    if (user) await admins(ctx, user);
  });
  kit.post(
    '/admin/admins',
    () => '/admin/admins',
    async (ctx, user, body) => {
      const input = {
        accountId: (stringField(body, 'account_id', 64) ?? '').trim(),
        role: stringField(body, 'role', 20) ?? '',
        agency: stringField(body, 'agency', 200) || null,
      };
      try {
        await admin.admins.grant(user.p, input);
        ctx.redirect('/admin/admins?done=saved');
      } catch (error) {
        const errors = formErrors(error, translator(langOf(ctx)));
        if (!errors) throw error;
        await admins(ctx, user, { errors, values: input }, formStatus(error));
      }
    },
  );
  kit.post(
    '/admin/admins/:id/revoke',
    () => '/admin/admins',
    async (ctx, user) => {
      try {
        await admin.admins.revokeGrant(user.p, ctx.params.id!);
        ctx.redirect('/admin/admins?done=revoked');
      } catch (error) {
        const errors = formErrors(error, translator(langOf(ctx)));
        if (!errors) throw error;
        await admins(ctx, user, { errors }, formStatus(error, 409));
      }
    },
  );

  // --- Dynamic registration tokens ---
  const dcr = async (
    ctx: Context,
    user: ConsoleUser,
    extra: Record<string, unknown> = {},
    status = 200,
  ) => {
    const page = await admin.dcr.listInitialTokens(user.p, {
      after: str(ctx, 'after'),
      limit: 100,
    });
    const agencyList = await admin.admins.listAgencies(user.p, { limit: 200 });
    kit.render(
      ctx,
      user,
      'dcr',
      {
        page,
        agencies: agencyList.items,
        enabled: settings.dcrEnabled,
        endpoint: `${issuer}/reg`,
        nextUrl: page.next ? `/admin/dcr?after=${page.next}` : undefined,
        done: kit.done(ctx),
        ...extra,
      },
      status,
    );
  };
  router.get('/admin/dcr', async (ctx) => {
    const user = await kit.signedIn(ctx);
    if (user) await dcr(ctx, user);
  });
  kit.post(
    '/admin/dcr',
    () => '/admin/dcr',
    async (ctx, user, body) => {
      try {
        const days = stringField(body, 'days', 4);
        const issued = await admin.dcr.issueInitialToken(user.p, {
          agency: stringField(body, 'agency', 200) ?? '',
          days: days ? Number(days) : undefined,
        });
        await dcr(ctx, user, { issued });
      } catch (error) {
        const errors = formErrors(error, translator(langOf(ctx)));
        if (!errors) throw error;
        await dcr(ctx, user, { errors }, formStatus(error));
      }
    },
  );
  kit.post(
    '/admin/dcr/:id/revoke',
    () => '/admin/dcr',
    async (ctx, user) => {
      await admin.dcr.revokeInitialToken(user.p, ctx.params.id!);
      ctx.redirect('/admin/dcr?done=revoked');
    },
  );
};
