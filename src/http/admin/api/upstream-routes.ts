// Upstream identity providers in the admin API (platform administrators only): the same
// federation service the CLI uses, so validation and audit are the same, behind the same guard
// as every admin use case (scopes, and a recent sign-in for changes).
import type { Context } from 'koa';
import {
  decodeCursor,
  encodeCursor,
  MAX_LIMIT,
  pageRequest,
  type Guard,
  type Principal,
} from '../../../admin/index.ts';
import type { UpstreamService, UpstreamView } from '../../../federation/index.ts';
import { AppError } from '../../../shared/index.ts';

type Route = (
  method: 'get' | 'post' | 'put' | 'delete',
  path: string,
  handler: (ctx: Context, p: Principal) => Promise<void>,
) => void;

const upstreamJson = (u: UpstreamView) => u;

const queryParam = (ctx: Context, name: string): string | undefined => {
  const value = ctx.query[name];
  if (Array.isArray(value))
    throw new AppError('ERR_BAD_PARAMETER', `${name}: give it once`, { details: { field: name } });
  return value || undefined;
};

export const adminUpstreamRoutes = (
  route: Route,
  {
    upstreams,
    guard,
    json,
  }: { upstreams: UpstreamService; guard: Guard; json: (ctx: Context) => Promise<unknown> },
) => {
  route('get', '/upstreams', async (ctx, p) => {
    guard.platform(p, false);
    // Keyset pages by id, like every admin list (src/admin/pagination.ts): ?limit=N&after=CURSOR.
    const page = pageRequest(queryParam(ctx, 'limit'), queryParam(ctx, 'after'));
    const limit = Math.min(page.limit ?? 50, MAX_LIMIT);
    const rows = await upstreams.list(undefined, {
      after: decodeCursor(page.after),
      limit: limit + 1,
    });
    const next = rows.length > limit ? encodeCursor(rows[limit - 1]!.id) : null;
    if (next) {
      const url = new URL(ctx.href);
      url.searchParams.set('after', next);
      ctx.set('Link', `<${url.pathname}${url.search}>; rel="next"`);
    }
    ctx.body = { items: rows.slice(0, limit).map(upstreamJson), next };
  });
  route('post', '/upstreams', async (ctx, p) => {
    guard.platform(p);
    ctx.status = 201;
    ctx.body = upstreamJson(
      await upstreams.add(await json(ctx), p.actor, { ip: ctx.ip, via: 'api' }),
    );
  });
  route('put', '/upstreams/:id', async (ctx, p) => {
    guard.platform(p);
    ctx.body = upstreamJson(
      await upstreams.update(ctx.params.id!, await json(ctx), p.actor, { ip: ctx.ip, via: 'api' }),
    );
  });
  for (const [action, status] of [
    ['disable', 'disabled'],
    ['enable', 'active'],
  ] as const) {
    route('post', `/upstreams/:id/${action}`, async (ctx, p) => {
      guard.platform(p);
      await upstreams.setStatus(ctx.params.id!, status, p.actor, { ip: ctx.ip, via: 'api' });
      ctx.body = { id: ctx.params.id, status };
    });
  }
};
