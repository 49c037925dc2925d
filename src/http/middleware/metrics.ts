// Request observation and metrics exposure: one access-log line and one metrics sample per
// request, and GET /metrics, either on its own listener (METRICS_PORT, bound to METRICS_HOST)
// or, when METRICS_PUBLIC=true (refused in production), on the main port.
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type Router from '@koa/router';
import type { Context, Next } from 'koa';
import type { Logger } from 'pino';
import type { Metrics } from '../../observability/index.ts';

// A caller's X-Request-Id (e.g. nginx's $request_id) is kept when it is a plain token.
const REQUEST_ID = /^[\w.:@-]{1,64}$/;
// Load balancer probes would drown the log at info.
const PROBES = new Set(['/healthz', '/readyz']);

/**
 * Request id in and out, then after the request: one log line (method, route, status, ms) and
 * the request metrics. The route is our router's pattern (/interaction/:uid) or the engine's
 * route name (token, authorization, ...), never the raw path: paths carry interaction ids and
 * enrolment tokens, and query strings carry state, nonce and login_hint.
 */
export const observeRequests =
  ({ log, metrics }: { log: Logger; metrics: Metrics }) =>
  async (ctx: Context, next: Next) => {
    const given = ctx.get('x-request-id');
    const reqId = REQUEST_ID.test(given) ? given : randomUUID();
    ctx.state.reqId = reqId;
    ctx.res.setHeader('X-Request-Id', reqId);
    const started = performance.now();
    let failed = false;
    try {
      await next();
    } catch (error) {
      failed = true;
      throw error;
    } finally {
      const seconds = (performance.now() - started) / 1000;
      const engine = metrics.engineRequest(ctx.req);
      const matched = (ctx as { _matchedRoute?: unknown })._matchedRoute;
      const route = typeof matched === 'string' ? matched : (engine?.route ?? 'unmatched');
      // The engine writes to the response itself, so read the status from there.
      const status = failed ? 500 : ctx.res.statusCode;
      metrics.recordRequest(ctx.method, route, status, seconds);
      const probe = PROBES.has(ctx.path);
      // At LOG_LEVEL=warn (or above) no request line is written: none is built either.
      if (log.isLevelEnabled(probe ? 'debug' : 'info')) {
        const line = {
          reqId,
          method: ctx.method,
          route,
          status,
          ms: Math.round(seconds * 1000),
          ...(engine?.clientId && { client: engine.clientId }),
        };
        if (probe) log.debug(line, 'request');
        else log.info(line, 'request');
      }
    }
  };

const send = async (metrics: Metrics) => ({
  body: await metrics.render(),
  type: metrics.contentType,
});

/** GET /metrics on the main router: only when METRICS_PUBLIC=true. */
export const metricsRoutes = (router: Router, { metrics }: { metrics: Metrics }) => {
  router.get('/metrics', async (ctx) => {
    const { body, type } = await send(metrics);
    ctx.set('Cache-Control', 'no-store');
    ctx.type = type;
    ctx.body = body;
  });
};

/**
 * The metrics listener (METRICS_PORT on METRICS_HOST): a bare node:http server answering only
 * GET /metrics, so nothing of the provider is reachable through it. Resolves once listening.
 */
export const startMetricsServer = (metrics: Metrics, port: number, host: string) =>
  new Promise<Server>((resolve, reject) => {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        return;
      }
      send(metrics).then(
        ({ body, type }) =>
          void res
            .writeHead(200, { 'content-type': type, 'cache-control': 'no-store' })
            .end(req.method === 'HEAD' ? undefined : body),
        () =>
          void res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n'),
      );
    });
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
