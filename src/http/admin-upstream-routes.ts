// Upstream identity providers in the admin API (platform administrators only): the same
// federation service the CLI uses, so validation and audit are the same, behind the same guard
// as every admin use case (scopes, and a recent sign-in for changes).
import type { Context } from 'koa';
import type { Guard, Principal } from '../admin/index.ts';
import type { UpstreamService, UpstreamView } from '../federation/index.ts';

type Route = (method: 'get' | 'post' | 'put' | 'delete', path: string, handler: (ctx: Context, p: Principal) => Promise<void>) => void;

const upstreamJson = (u: UpstreamView) => u;

export const adminUpstreamRoutes = (route: Route, { upstreams, guard, json }: { upstreams: UpstreamService; guard: Guard; json: (ctx: Context) => Promise<unknown> }) => {
  route('get', '/upstreams', async (ctx, p) => {
    guard.platform(p, false);
    ctx.body = { items: (await upstreams.list()).map(upstreamJson) };
  });
  route('post', '/upstreams', async (ctx, p) => {
    guard.platform(p);
    ctx.status = 201;
    ctx.body = upstreamJson(await upstreams.add(await json(ctx), p.actor, { ip: ctx.ip, via: 'api' }));
  });
  route('put', '/upstreams/:id', async (ctx, p) => {
    guard.platform(p);
    ctx.body = upstreamJson(await upstreams.update(ctx.params.id!, await json(ctx), p.actor, { ip: ctx.ip, via: 'api' }));
  });
  for (const [action, status] of [['disable', 'disabled'], ['enable', 'active']] as const) {
    route('post', `/upstreams/:id/${action}`, async (ctx, p) => {
      guard.platform(p);
      await upstreams.setStatus(ctx.params.id!, status, p.actor, { ip: ctx.ip, via: 'api' });
      ctx.body = { id: ctx.params.id, status };
    });
  }
};
