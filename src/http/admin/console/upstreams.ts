// The console's page for upstream identity providers (docs/federation.md): platform
// administrators list, add, edit, disable and enable them. The same federation service as the
// CLI and the admin API (validation, sealed secret, audit) behind the same guard
// (`guard.platform`: admin:write and a recent sign-in for changes).
import type Router from '@koa/router';
import type { Context } from 'koa';
import { ACR_VALUES } from '../../../auth/index.ts';
import { ATTRIBUTES, type UpstreamService, type UpstreamView } from '../../../federation/index.ts';
import { AppError, isAppError } from '../../../shared/index.ts';
import { translator } from '../../render/messages.ts';
import { langOf } from '../../render/views.ts';
import { formErrors } from './forms.ts';
import type { ConsoleDeps, ConsoleKit, ConsoleUser } from './routes.ts';

type Values = Record<string, string | string[]>;

const text = (body: Record<string, unknown>, name: string) =>
  typeof body[name] === 'string' ? (body[name] as string).trim() : '';
const many = (body: Record<string, unknown>, name: string) =>
  ([] as unknown[])
    .concat(body[name] ?? [])
    .filter((v): v is string => typeof v === 'string' && v !== '');

/**
 * The registration a submitted form describes, in the service's JSON shape. An empty secret is
 * left out: on an edit the service then keeps the stored one.
 */
export const formToUpstream = (
  body: Record<string, unknown>,
  { id }: { id?: string | undefined } = {},
): Record<string, unknown> => {
  const claims = Object.fromEntries(
    ATTRIBUTES.flatMap((a) => (text(body, `claim_${a}`) ? [[a, text(body, `claim_${a}`)]] : [])),
  );
  const secret = typeof body.client_secret === 'string' ? body.client_secret : '';
  const logo = text(body, 'logo_uri');
  return {
    id: id ?? text(body, 'id'),
    issuer: text(body, 'issuer'),
    client_id: text(body, 'client_id'),
    ...(secret && { client_secret: secret }),
    token_endpoint_auth_method: text(body, 'token_endpoint_auth_method') || 'client_secret_basic',
    scopes: text(body, 'scopes').split(/\s+/).filter(Boolean),
    claims,
    acr: text(body, 'acr'),
    match: many(body, 'match'),
    enrolment: text(body, 'enrolment') === 'yes',
    display_name: { ko: text(body, 'display_name_ko'), en: text(body, 'display_name_en') },
    ...(logo && { logo_uri: logo }),
  };
};

/** Form values from a stored upstream, from a submission (redisplayed after an error), or for a new one. */
export const upstreamFormValues = (
  source: UpstreamView | Record<string, unknown> | undefined,
): Values => {
  if (!source)
    return {
      token_endpoint_auth_method: 'client_secret_basic',
      scopes: 'openid',
      acr: ACR_VALUES[1]!,
      match: [],
    };
  if ('displayName' in source && 'claimMapping' in source) {
    const u = source as UpstreamView;
    return {
      id: u.id,
      issuer: u.issuer,
      client_id: u.clientId,
      token_endpoint_auth_method: u.tokenEndpointAuthMethod,
      scopes: u.scopes.join(' '),
      ...Object.fromEntries(ATTRIBUTES.map((a) => [`claim_${a}`, u.claimMapping[a] ?? ''])),
      acr: u.acr,
      match: u.matchRule,
      enrolment: u.enrolment ? 'yes' : '',
      display_name_ko: u.displayName.ko,
      display_name_en: u.displayName.en,
      logo_uri: u.logoUri ?? '',
    };
  }
  const values: Values = {};
  // Never echo a secret back into the page.
  for (const [k, v] of Object.entries(source))
    if (k !== '_csrf' && k !== 'client_secret' && typeof v === 'string') values[k] = v;
  values.match = many(source, 'match');
  return values;
};

export const adminConsoleUpstreams = (
  router: Router,
  { admin, upstreams, issuer, claims, session }: ConsoleDeps & { upstreams: UpstreamService },
  kit: ConsoleKit,
) => {
  const via = (ctx: Context) => ({ ip: ctx.ip, via: 'console' });
  const home = '/admin/upstreams';
  const edit = (ctx: Context) => `${home}/${encodeURIComponent(ctx.params.id!)}/edit`;
  /** Attribute names with the claims catalogue's labels (the same words citizens see). */
  const labels = async () =>
    Object.fromEntries(((await claims?.()) ?? []).map((i) => [i.name, i.label]));

  /** Signed in as a platform administrator: `write` forms renew an old sign-in first (as the client form does). */
  const platform = async (ctx: Context, write: boolean): Promise<ConsoleUser | undefined> => {
    const user = await kit.signedIn(ctx);
    if (!user) return undefined;
    try {
      admin.guard.platform(user.p, write);
      return user;
    } catch (error) {
      if (!write || !isAppError(error) || error.code !== 'ERR_REAUTH_REQUIRED') throw error;
      ctx.redirect(await session.loginUrl(ctx, ctx.originalUrl));
      return undefined;
    }
  };

  const showForm = async (
    ctx: Context,
    user: ConsoleUser,
    o: {
      upstream?: UpstreamView | undefined;
      values: Values;
      errors?: { field: string; message: string }[] | undefined;
    },
  ) =>
    kit.render(
      ctx,
      user,
      'upstream-form',
      {
        ...o,
        attributes: ATTRIBUTES,
        acrValues: ACR_VALUES,
        labels: await labels(),
        callback: `${issuer}/federation/callback`,
      },
      o.errors ? 400 : 200,
    );

  router.get(home, async (ctx) => {
    const user = await platform(ctx, false);
    if (!user) return;
    kit.render(ctx, user, 'upstreams', {
      items: await upstreams.list(),
      labels: await labels(),
      callback: `${issuer}/federation/callback`,
      done: kit.done(ctx),
    });
  });

  router.get(`${home}/new`, async (ctx) => {
    const user = await platform(ctx, true);
    if (user) await showForm(ctx, user, { values: upstreamFormValues(undefined) });
  });

  kit.post(
    home,
    () => `${home}/new`,
    async (ctx, user, body) => {
      admin.guard.platform(user.p);
      try {
        await upstreams.add(formToUpstream(body), user.p.actor, via(ctx));
        ctx.redirect(`${home}?done=upstream-created`);
      } catch (error) {
        const errors = formErrors(error, translator(langOf(ctx)));
        if (!errors) throw error;
        await showForm(ctx, user, { values: upstreamFormValues(body), errors });
      }
    },
  );

  const find = async (ctx: Context) => {
    const upstream = await upstreams.find(ctx.params.id!);
    if (!upstream)
      throw new AppError('ERR_UPSTREAM_NOT_FOUND', `upstream ${ctx.params.id} does not exist`, {
        status: 404,
      });
    return upstream;
  };

  router.get(`${home}/:id/edit`, async (ctx) => {
    const user = await platform(ctx, true);
    if (!user) return;
    const upstream = await find(ctx);
    await showForm(ctx, user, { upstream, values: upstreamFormValues(upstream) });
  });

  kit.post(`${home}/:id`, edit, async (ctx, user, body) => {
    admin.guard.platform(user.p);
    const upstream = await find(ctx);
    try {
      await upstreams.update(
        upstream.id,
        formToUpstream(body, { id: upstream.id }),
        user.p.actor,
        via(ctx),
      );
      ctx.redirect(`${home}?done=upstream-updated`);
    } catch (error) {
      const errors = formErrors(error, translator(langOf(ctx)));
      if (!errors) throw error;
      await showForm(ctx, user, {
        upstream,
        values: { ...upstreamFormValues(body), id: upstream.id },
        errors,
      });
    }
  });

  for (const [action, status] of [
    ['disable', 'disabled'],
    ['enable', 'active'],
  ] as const) {
    kit.post(
      `${home}/:id/${action}`,
      () => home,
      async (ctx, user) => {
        admin.guard.platform(user.p);
        const upstream = await find(ctx);
        await upstreams.setStatus(upstream.id, status, user.p.actor, via(ctx));
        ctx.redirect(`${home}?done=upstream-${action}d`);
      },
    );
  }
};
