// The console's system form: register (new) and edit, with the allowance editor
// (allowance-editor.ts). Errors come back on the form, each next to its field and in the summary.
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { ClientView } from '../../../admin/index.ts';
import type { CatalogueItem } from '../../../consent/index.ts';
import {
  checkRows,
  editorItems,
  placeRegistryErrors,
  rowsFromAllowances,
  rowsFromBody,
  type AllowanceRows,
} from './allowance-editor.ts';
import { formErrors, formToMetadata, formValues } from './forms.ts';
import type { ConsoleDeps, ConsoleKit, ConsoleUser } from './routes.ts';
import { translator } from '../../render/messages.ts';
import { langOf } from '../../render/views.ts';

type FormError = { field: string; message: string; href?: string; label?: string };

export const adminConsoleClientForm = (
  router: Router,
  { admin }: ConsoleDeps,
  kit: ConsoleKit,
  catalogue: () => Promise<CatalogueItem[]>,
) => {
  const detail = (ctx: Context) => `/admin/clients/${encodeURIComponent(ctx.params.id!)}`;

  const show = async (
    ctx: Context,
    user: ConsoleUser,
    o: {
      client?: ClientView | undefined;
      values: Record<string, string | string[]>;
      rows: AllowanceRows;
      errors?: FormError[] | undefined;
    },
  ) =>
    kit.render(
      ctx,
      user,
      'client-form',
      {
        ...o,
        agencies: (await admin.admins.listAgencies(user.p, { limit: 200 })).items,
        items: editorItems(await catalogue(), o.rows),
      },
      o.errors ? 400 : 200,
    );

  /** The allowance rows' own errors first (localised, per row); none: undefined. */
  const rowErrors = async (ctx: Context, rows: AllowanceRows) => {
    const lang = langOf(ctx);
    const labels = Object.fromEntries(
      editorItems(await catalogue(), rows).map((i) => [i.name, i.label[lang]]),
    );
    const t = translator(lang);
    const errors = checkRows(rows, labels, t);
    return {
      errors: errors.length ? errors : undefined,
      place: (list: FormError[]) => placeRegistryErrors(list, rows, labels, t),
    };
  };

  /** Saves through `save`, or shows the form again with every error placed. */
  const submit = async (
    ctx: Context,
    user: ConsoleUser,
    body: Record<string, unknown>,
    client: ClientView | undefined,
    save: () => Promise<void>,
  ) => {
    const rows = rowsFromBody(body);
    const checked = await rowErrors(ctx, rows);
    const again = (errors: FormError[]) =>
      show(ctx, user, { client, values: formValues(body), rows, errors });
    if (checked.errors) return again(checked.errors);
    try {
      await save();
    } catch (error) {
      const errors = formErrors(error, translator(langOf(ctx)));
      if (!errors) throw error;
      await again(checked.place(errors));
    }
  };

  router.get('/admin/clients/new', async (ctx) => {
    const user = await kit.signedIn(ctx);
    if (!user || !(await kit.canChange(ctx, user))) return;
    await show(ctx, user, { values: formValues(undefined), rows: {} });
  });

  kit.post(
    '/admin/clients',
    () => '/admin/clients/new',
    async (ctx, user, body) =>
      submit(ctx, user, body, undefined, async () => {
        const { client, clientSecret } = await admin.registry.create(
          user.p,
          formToMetadata(body, { create: true }),
        );
        const done = client.status === 'draft' ? 'requested' : 'created';
        if (clientSecret)
          kit.render(ctx, user, 'secret', {
            client,
            secret: clientSecret,
            done: translator(langOf(ctx))(`admin.done.${done}`),
          });
        else ctx.redirect(`/admin/clients/${encodeURIComponent(client.client_id)}?done=${done}`);
      }),
  );

  router.get('/admin/clients/:id/edit', async (ctx) => {
    const user = await kit.signedIn(ctx);
    if (!user || !(await kit.canChange(ctx, user))) return;
    const client = await admin.registry.get(user.p, ctx.params.id!);
    await show(ctx, user, {
      client,
      values: formValues(client),
      rows: rowsFromAllowances(client.allowed_claims),
    });
  });

  kit.post(
    '/admin/clients/:id',
    (ctx) => `${detail(ctx)}/edit`,
    async (ctx, user, body) => {
      const client = await admin.registry.get(user.p, ctx.params.id!);
      await submit(ctx, user, body, client, async () => {
        // The form shows the main fields; the rest (kept as stored) must survive the save.
        const { clientSecret } = await admin.registry.update(
          user.p,
          client.client_id,
          formToMetadata(body, { create: false, stored: client.metadata }),
        );
        if (clientSecret)
          kit.render(ctx, user, 'secret', {
            client,
            secret: clientSecret,
            done: translator(langOf(ctx))('admin.done.updated'),
          });
        else ctx.redirect(`${detail(ctx)}?done=updated`);
      });
    },
  );
};
