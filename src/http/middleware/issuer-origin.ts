// Every URL One-ID publishes or redirects to comes from ISSUER, never from the request. A request
// sent to another host is refused (421 Misdirected Request, RFC 9110 15.5.20), and one over plain
// http to an https issuer is sent to https: otherwise the engine, which builds its endpoints from
// the request, would publish an attacker's host (and the engine cache would keep it for everyone).
import type { IncomingMessage } from 'node:http';
import type { Context, Middleware, Next } from 'koa';
import { isTrustedProxy } from '../../auth/certificate/index.ts';
import { AppError } from '../../shared/index.ts';
import { canonicalPath } from './canonical-path.ts';
import { wantsJson } from './errors.ts';

/** Load balancers and scrapers ask these by address, with whatever Host they like. */
const ANY_HOST = new Set(['/healthz', '/readyz', '/metrics']);
const ABSOLUTE_FORM = /^https?:\/\//i;

const values = (header: string | string[] | undefined) =>
  String(header ?? '')
    .split(',')
    .map((value) => value.trim())
    .filter(Boolean);

export type IssuerOrigin = ReturnType<typeof createIssuerOrigin>;

/**
 * `origin`: ISSUER (or the certificate listener's own https origin). X-Forwarded-Host and
 * X-Forwarded-Proto are believed only from TRUSTED_PROXIES, as everywhere (src/http/rate-limit/client-address.ts).
 */
export const createIssuerOrigin = ({
  origin,
  trustedProxies,
}: {
  origin: string;
  trustedProxies: readonly string[];
}) => {
  const expected = new URL(origin);
  const scheme = expected.protocol.slice(0, -1);
  // The usual case, the issuer's host spelt as the issuer spells it, needs no parsing (a URL's
  // host parses back to itself).
  const sameHost = (given: string) =>
    given === expected.host ||
    (URL.canParse(`${expected.protocol}//${given}`) &&
      new URL(`${expected.protocol}//${given}`).host === expected.host);
  const viaProxy = (req: IncomingMessage) =>
    trustedProxies.length > 0 && isTrustedProxy(req.socket.remoteAddress ?? '', trustedProxies);

  /** Whether the request was sent to the expected host, and over https when the origin is. */
  const check = (req: IncomingMessage) => {
    const proxied = viaProxy(req);
    const forwardedHosts = proxied ? values(req.headers['x-forwarded-host']) : undefined;
    let host = forwardedHosts?.length
      ? forwardedHosts.every(sameHost)
      : sameHost(req.headers.host ?? '');
    // RFC 9112 3.2.2: a request target in absolute form names the host itself.
    const url = req.url ?? '';
    if (ABSOLUTE_FORM.test(url)) host &&= sameHost(URL.canParse(url) ? new URL(url).host : '');
    const forwardedProto = proxied ? values(req.headers['x-forwarded-proto'])[0] : undefined;
    const encrypted = (req.socket as { encrypted?: boolean }).encrypted === true;
    const protocol = forwardedProto?.toLowerCase() ?? (encrypted ? 'https' : 'http');
    return { host, secure: scheme !== 'https' || protocol === 'https', proxied };
  };

  /** For answers given ahead of koa (the engine cache): true only for a request the rule lets through. */
  const accepts = (req: IncomingMessage) => {
    const result = check(req);
    return result.host && result.secure;
  };

  /**
   * Refuses or redirects what the rule does not let through; then pins the request to the
   * origin (Host, scheme, origin-form target), so the engine and our pages derive every URL from it.
   * `refuse` renders the 421 (the error middleware: a page or problem+json).
   */
  const middleware =
    (refuse: Middleware): Middleware =>
    (ctx: Context, next: Next) => {
      const result = check(ctx.req);
      const url = ctx.req.url ?? '/';
      if (ABSOLUTE_FORM.test(url))
        ctx.req.url = URL.canParse(url) ? new URL(url).pathname + new URL(url).search : '/';
      if (ANY_HOST.has(canonicalPath(ctx.path))) return next();
      if (!result.host) {
        // A page sets Secure cookies, which koa refuses to send over an insecure line: plain text then.
        if (!wantsJson(ctx) && !(result.secure && ctx.accepts('html'))) {
          ctx.status = 421;
          ctx.type = 'text/plain';
          ctx.body = `This server answers only for ${expected.host}.\n`;
          return;
        }
        return refuse(ctx, () => {
          throw new AppError(
            'ERR_MISDIRECTED_REQUEST',
            `This server answers only for ${expected.host}.`,
            { status: 421 },
          );
        });
      }
      if (!result.secure) return toHttps(ctx, expected);
      ctx.req.headers.host = expected.host;
      delete ctx.req.headers['x-forwarded-host'];
      if (result.proxied) ctx.req.headers['x-forwarded-proto'] = scheme;
      return next();
    };

  return { accepts, middleware };
};

/**
 * Plain http to an https issuer: GET and HEAD are sent to the same path on the issuer (308); any
 * other method is refused (403), with no page, which would set Secure cookies on an insecure line.
 */
const toHttps = (ctx: Context, expected: URL) => {
  ctx.set('Cache-Control', 'no-store');
  if (ctx.method === 'GET' || ctx.method === 'HEAD') {
    ctx.status = 308;
    ctx.redirect(`${expected.origin}${ctx.url}`);
    return;
  }
  const message = `Use ${expected.origin}: this server accepts only https.`;
  ctx.status = 403;
  if (wantsJson(ctx)) {
    ctx.type = 'application/problem+json';
    ctx.body = {
      type: 'about:blank',
      title: 'ERR_HTTPS_REQUIRED',
      status: 403,
      detail: message,
      code: 'ERR_HTTPS_REQUIRED',
      message,
    };
  } else {
    ctx.type = 'text/plain';
    ctx.body = `${message}\n`;
  }
};
