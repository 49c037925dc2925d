// Discovery and JWKS change only when the engine is rebuilt (key rotation, catalogue change),
// and every instance of the engine answers them the same: the first GET is answered by the
// engine and its response (body and the headers that matter, its Cache-Control among them:
// src/oidc/metadata-caching.ts) kept for that engine instance; every answer, the first included,
// carries an ETag (the body's hash: the same on every instance serving the same keys), and a
// matching If-None-Match gets a 304. CORS is set per request, as the engine does for these open
// endpoints (the caller's Origin, else `*`): a kept Access-Control-Allow-Origin would hand every
// browser app the first caller's origin.
import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'koa';

/** The engine's paths (oidc-provider defaults) whose answer depends on nothing but the engine instance. */
export const STATIC_ENGINE_PATHS = new Set(['/.well-known/openid-configuration', '/jwks']);
const KEPT_HEADERS = ['content-type', 'cache-control', 'access-control-expose-headers'];

type Cached = {
  body: Buffer;
  etag: string;
  headers: [string, string][];
  /** The security headers and `headers`, flat, as writeHead takes them (built at first use). */
  flat?: { security: [string, string][]; names: string[] };
};

const cacheByEngine = new WeakMap<object, Map<string, Cached>>();

export const isStaticEngineRequest = (ctx: Context) =>
  (ctx.method === 'GET' || ctx.method === 'HEAD') && STATIC_ENGINE_PATHS.has(ctx.path);

const REQUEST_ID = /^[\w.:@-]{1,64}$/;

/** The path of a GET/HEAD of a static engine path, on the node request; else undefined. */
export const staticEnginePath = (req: IncomingMessage): string | undefined => {
  if (req.method !== 'GET' && req.method !== 'HEAD') return undefined;
  const url = req.url ?? '';
  const query = url.indexOf('?');
  const path = query < 0 ? url : url.slice(0, query);
  return STATIC_ENGINE_PATHS.has(path) ? path : undefined;
};

/**
 * Answers a GET/HEAD of a static engine path from the cache straight on the node request, before
 * koa (no context, no middleware: what makes these cheaper than the engine itself), with the same
 * security headers as every other response, all written at once (node validates each as it
 * writes them). Returns the route name answered and the request id, or undefined when the request
 * is not one (or this engine has not answered that path yet): then koa handles it.
 */
export const answerFromCache = (
  req: IncomingMessage,
  res: ServerResponse,
  engine: object,
  securityHeaders: [string, string][],
): { route: string; reqId: string } | undefined => {
  const path = staticEnginePath(req);
  if (path === undefined) return undefined;
  const hit = cacheByEngine.get(engine)?.get(path);
  if (!hit) return undefined;
  if (hit.flat?.security !== securityHeaders)
    hit.flat = { security: securityHeaders, names: [...securityHeaders, ...hit.headers].flat() };
  const origin = req.headers.origin;
  const given = req.headers['x-request-id'];
  const reqId = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
  const headers = [
    ...hit.flat.names,
    'Access-Control-Allow-Origin',
    typeof origin === 'string' && origin ? origin : '*',
    'Vary',
    'Origin',
    'ETag',
    hit.etag,
    'X-Request-Id',
    reqId,
  ];
  if (etagMatches(req.headers['if-none-match'], hit.etag)) {
    res.writeHead(304, headers).end();
  } else {
    headers.push('Content-Length', String(hit.body.length));
    res.writeHead(200, headers).end(req.method === 'HEAD' ? undefined : hit.body);
  }
  return { route: path === '/jwks' ? 'jwks' : 'discovery', reqId };
};

/**
 * RFC 9110 13.1.2: If-None-Match holds `*` or a list of entity tags, compared weakly (a `W/`
 * prefix is ignored); our tags are strong and hold no comma.
 */
export const etagMatches = (ifNoneMatch: string | undefined, etag: string) => {
  if (ifNoneMatch === undefined) return false;
  if (ifNoneMatch === etag) return true;
  return ifNoneMatch.split(',').some((tag) => {
    const trimmed = tag.trim();
    return trimmed === '*' || (trimmed.startsWith('W/') ? trimmed.slice(2) : trimmed) === etag;
  });
};

const etagOf = (body: Buffer) =>
  `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;

/**
 * Records the engine's 200 answer to the GET `req` on the way out (res.write/res.end), for this
 * engine instance, and gives it its ETag (a 304 when If-None-Match names it) while its headers
 * are not yet sent.
 */
export const recordEngineAnswer = (
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  engine: object,
) => {
  const chunks: Buffer[] = [];
  const write = res.write.bind(res);
  const end = res.end.bind(res);
  const keep = (chunk: unknown, encoding?: unknown) => {
    if (typeof chunk === 'string')
      chunks.push(
        Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8'),
      );
    else if (chunk instanceof Uint8Array) chunks.push(Buffer.from(chunk));
  };
  res.write = ((chunk: unknown, ...rest: unknown[]) => {
    keep(chunk, rest[0]);
    return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof res.write;
  res.end = ((chunk?: unknown, ...rest: unknown[]) => {
    if (chunk !== undefined && typeof chunk !== 'function') keep(chunk, rest[0]);
    if (res.statusCode === 200) {
      const body = Buffer.concat(chunks);
      const etag = etagOf(body);
      const headers = KEPT_HEADERS.flatMap((name): [string, string][] => {
        const value = res.getHeader(name);
        return value === undefined ? [] : [[name, String(value)]];
      });
      const perEngine = cacheByEngine.get(engine) ?? new Map<string, Cached>();
      perEngine.set(path, { body, etag, headers });
      cacheByEngine.set(engine, perEngine);
      // koa sends the engine's JSON with a single end(): its headers are still ours to add to.
      if (!res.headersSent) {
        res.setHeader('ETag', etag);
        if (etagMatches(req.headers['if-none-match'], etag)) {
          res.statusCode = 304;
          res.removeHeader('Content-Length');
          const done = [chunk, ...rest].find((arg) => typeof arg === 'function');
          return (end as (...args: unknown[]) => ServerResponse)(done);
        }
      }
    }
    return (end as (...args: unknown[]) => ServerResponse)(chunk, ...rest);
  }) as typeof res.end;
};
