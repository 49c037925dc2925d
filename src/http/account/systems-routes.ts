// My One-ID's directory of agency systems (GET /account/systems): every enabled system, searched
// with a plain GET form (?q=, no script), each linked through third-party-initiated login.
import type Router from '@koa/router';
import type { SystemDirectory } from '../../clients/index.ts';
import type { AccountSession } from './account-session.ts';
import { langOf, type Views } from '../render/views.ts';

type Deps = { accountSession: AccountSession; directory: SystemDirectory; views: Views };

const MAX_QUERY = 100;

export const systemsRoutes = (router: Router, { accountSession, directory, views }: Deps) => {
  router.get('/account/systems', async (ctx) => {
    const citizen = await accountSession.require(ctx);
    if (!citizen) return;
    const query = typeof ctx.query.q === 'string' ? ctx.query.q.trim().slice(0, MAX_QUERY) : '';
    const lang = langOf(ctx);
    views.render(ctx, 'systems', { query, systems: await directory.search(query, lang) });
  });
};
