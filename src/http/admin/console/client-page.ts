// A system's page in the console and its review and status actions: approve (enable) a draft,
// return it with a reason, disable, enable again, delete. Disabling and deleting sign every
// citizen out of the system, so both need a ticked confirmation (checked here, not only by the
// browser's `required`).
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { ConsoleDeps, ConsoleKit, ConsoleUser } from './routes.ts';
import { formErrors, formStatus } from './forms.ts';
import { stringField } from '../../middleware/body.ts';
import { translator } from '../../render/messages.ts';
import { langOf } from '../../render/views.ts';

type Labels = () => Promise<Record<string, { ko: string; en: string }>>;
type PageError = { field: string; message: string; href?: string; label?: string };

export const adminConsoleClientPage = (
  router: Router,
  { admin }: ConsoleDeps,
  kit: ConsoleKit,
  claimLabels: Labels,
) => {
  const detail = (ctx: Context) => `/admin/clients/${encodeURIComponent(ctx.params.id!)}`;

  /** The page, with the last return for changes while it is still unanswered (no edit since). */
  const show = async (
    ctx: Context,
    user: ConsoleUser,
    extra: { errors?: PageError[]; reason?: string } = {},
    status = 200,
  ) => {
    const client = await admin.registry.get(user.p, ctx.params.id!);
    const subject = `client:${client.client_id}`;
    const [history, returns] = await Promise.all([
      admin.audit.search(user.p, { subject, limit: 10 }),
      client.status === 'draft'
        ? admin.audit.search(user.p, { subject, action: 'clients.review.returned', limit: 1 })
        : undefined,
    ]);
    const returned = returns?.items[0];
    kit.render(
      ctx,
      user,
      'client',
      {
        client,
        history: await kit.auditRows(user, history.items),
        done: kit.done(ctx),
        claimLabels: await claimLabels(),
        returned:
          returned && returned.occurredAt >= new Date(client.updated_at)
            ? { at: returned.occurredAt, reason: String(returned.details?.reason ?? '') }
            : undefined,
        ...extra,
      },
      status,
    );
  };

  router.get('/admin/clients/:id', async (ctx) => {
    const user = await kit.signedIn(ctx);
    if (user) await show(ctx, user);
  });

  /** A confirmation box left unticked: the page again, the error next to the box. */
  const unconfirmed = (ctx: Context, user: ConsoleUser, box: string) =>
    show(
      ctx,
      user,
      {
        errors: [
          {
            field: box,
            href: `#${box}`,
            message: translator(langOf(ctx))('admin.client.confirm.needed'),
          },
        ],
      },
      400,
    );

  kit.post('/admin/clients/:id/enable', detail, async (ctx, user) => {
    const before = await admin.registry.get(user.p, ctx.params.id!);
    await admin.registry.enable(user.p, ctx.params.id!);
    ctx.redirect(`${detail(ctx)}?done=${before.status === 'disabled' ? 'reenabled' : 'enabled'}`);
  });

  kit.post('/admin/clients/:id/disable', detail, async (ctx, user, body) => {
    if (body.confirm !== 'yes') return unconfirmed(ctx, user, 'confirm-disable');
    await admin.registry.disable(user.p, ctx.params.id!);
    ctx.redirect(`${detail(ctx)}?done=disabled`);
  });

  kit.post('/admin/clients/:id/delete', detail, async (ctx, user, body) => {
    if (body.confirm !== 'yes') return unconfirmed(ctx, user, 'confirm-delete');
    await admin.registry.remove(user.p, ctx.params.id!);
    ctx.redirect('/admin/clients?done=deleted');
  });

  // The review's other outcome: the draft goes back to its agency with the reason, audited.
  kit.post('/admin/clients/:id/return', detail, async (ctx, user, body) => {
    const reason = stringField(body, 'reason', 10_000) ?? '';
    try {
      await admin.registry.returnDraft(user.p, ctx.params.id!, reason);
      ctx.redirect(`${detail(ctx)}?done=returned`);
    } catch (error) {
      const errors = formErrors(error, translator(langOf(ctx)));
      if (!errors) throw error;
      const t = translator(langOf(ctx));
      await show(
        ctx,
        user,
        {
          errors: errors.map((e) =>
            e.field === 'reason'
              ? { ...e, href: '#f-reason', message: t('admin.client.return.reason.needed') }
              : e,
          ),
          reason,
        },
        formStatus(error),
      );
    }
  });
};
