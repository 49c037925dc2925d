// My One-ID: ending one of the citizen's sessions from any device. The session is marked ended
// and every agency system it was used with gets a back-channel logout token (src/sessions).
import type Router from '@koa/router';
import type { SessionService } from '../../sessions/index.ts';
import type { AccountSession } from './account-session.ts';
import { readBody } from '../middleware/body.ts';
import type { Csrf } from '../middleware/csrf.ts';

type Deps = { accountSession: AccountSession; sessions: SessionService; csrf: Csrf };

// Engine session uids are nanoids (21 URL-safe characters).
const UID = /^[\w-]{10,64}$/;

export const sessionRoutes = (router: Router, { accountSession, sessions, csrf }: Deps) => {
  router.post('/account/sessions/:uid/end', async (ctx) => {
    const body = await readBody(ctx);
    csrf.verify(ctx, body._csrf);
    const citizen = await accountSession.require(ctx);
    if (!citizen) return;
    const uid = ctx.params.uid!;
    // Someone else's session, or one already over, is reported the same: nothing to end.
    const ended =
      UID.test(uid) &&
      (await sessions.end(citizen.accountId, uid, {
        actor: `account:${citizen.accountId}`,
        ip: ctx.ip,
      }));
    ctx.status = 303;
    // Ending this browser's own session signs it out: the account page will ask to sign in.
    ctx.redirect(ended ? '/account?done=session-ended#sessions' : '/account#sessions');
  });
};
