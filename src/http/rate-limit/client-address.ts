// The client's address, as far as it can be trusted. X-Forwarded-* headers are believed only
// when the TCP peer is one of TRUSTED_PROXIES (koa's `app.proxy` alone would believe any
// caller), and then only the nearest hop the proxies did not add themselves: entries to its
// left were written by the client and could name anyone. Runs first, so koa, the engine, the
// logs, the audit trail and the rate limits all see the same `ctx.ip`.
import type { Context, Next } from 'koa';
import { isTrustedProxy } from '../../auth/certificate/index.ts';

const FORWARDED = [
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'forwarded',
];

export const trustedForwarding =
  (trustedProxies: readonly string[]) => (ctx: Context, next: Next) => {
    const headers = ctx.req.headers;
    const peer = ctx.req.socket.remoteAddress ?? '';
    if (!trustedProxies.length || !isTrustedProxy(peer, trustedProxies)) {
      for (const name of FORWARDED) delete headers[name];
    } else if (headers['x-forwarded-for']) {
      const hops = String(headers['x-forwarded-for'])
        .split(',')
        .map((h) => h.trim())
        .filter(Boolean);
      let client = hops[hops.length - 1] ?? peer;
      for (let i = hops.length - 1; i >= 0 && isTrustedProxy(hops[i]!, trustedProxies); i -= 1)
        client = hops[i - 1] ?? hops[i]!;
      headers['x-forwarded-for'] = client;
    }
    return next();
  };
