// Enrolment pages: the counter-issued link lets a citizen create a first passkey.
import type Router from '@koa/router';
import type { EnrolmentService } from '../../auth/index.ts';
import { readBody } from '../middleware/body.ts';
import type { Csrf } from '../middleware/csrf.ts';
import type { Views } from '../render/views.ts';

const deviceName = (userAgent: string) => {
  const os = /Android|iPhone|iPad|Windows|Mac OS X|Linux|CrOS/.exec(userAgent)?.[0] ?? 'device';
  return `Passkey (${os.replace('Mac OS X', 'macOS')})`;
};

export const enrolmentRoutes = (
  router: Router,
  { enrolment, views, csrf }: { enrolment: EnrolmentService; views: Views; csrf: Csrf },
) => {
  router.get('/enrol/done', (ctx) => {
    views.render(ctx, 'enrol-done');
  });

  router.get('/enrol/:token', async (ctx) => {
    const account = await enrolment.open(ctx.params.token!);
    ctx.set('Referrer-Policy', 'no-referrer');
    views.render(ctx, 'enrol', {
      name: account.name,
      optionsUrl: `/enrol/${ctx.params.token}/options`,
      verifyUrl: `/enrol/${ctx.params.token}/verify`,
    });
  });

  router.post('/enrol/:token/options', async (ctx) => {
    const body = await readBody(ctx);
    csrf.verify(ctx, body._csrf);
    ctx.body = await enrolment.registrationOptions(ctx.params.token!);
  });

  router.post('/enrol/:token/verify', async (ctx) => {
    const body = await readBody(ctx);
    csrf.verify(ctx, body._csrf);
    await enrolment.complete(ctx.params.token!, body as never, deviceName(ctx.get('user-agent')));
    ctx.body = { location: '/enrol/done' };
  });
};
