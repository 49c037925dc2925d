// GET /certificate/refused: where a TLS-terminating proxy sends the browser when it refused the
// client certificate itself (nginx `error_page 495 496`, docs/deploy.md): a readable ko/en page
// instead of the proxy's bare 400, explaining the refusal and offering the passkey instead.
import type Router from '@koa/router';
import type { Views } from '../render/views.ts';

export const certificateRefusedRoutes = (router: Router, { views }: { views: Views }) => {
  router.get('/certificate/refused', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    views.render(ctx, 'certificate-refused', {}, { status: 400 });
  });
};
