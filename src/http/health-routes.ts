import type Router from '@koa/router';

/**
 * /healthz: the process is alive. /readyz: its dependencies answer and it is not stopping (load
 * balancers route on it; a stopping instance answers 503 `stopping` while it drains).
 */
export const healthRoutes = (
  router: Router,
  {
    checks,
    stopping = () => false,
  }: { checks: Record<string, () => Promise<void>>; stopping?: (() => boolean) | undefined },
) => {
  router.get('/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    if (stopping()) {
      ctx.status = 503;
      ctx.body = { status: 'stopping' };
      return;
    }
    const results = await Promise.all(
      Object.entries(checks).map(async ([name, check]) => {
        try {
          await Promise.race([
            check(),
            new Promise((_, reject) =>
              setTimeout(() => reject(new Error('timeout')), 2000).unref(),
            ),
          ]);
          return [name, 'ok'] as const;
        } catch {
          return [name, 'unavailable'] as const;
        }
      }),
    );
    const ready = results.every(([, status]) => status === 'ok');
    ctx.status = ready ? 200 : 503;
    ctx.body = { status: ready ? 'ready' : 'unavailable', checks: Object.fromEntries(results) };
  });
};
