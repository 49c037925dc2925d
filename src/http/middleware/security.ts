// Response hardening for every route: a per-request CSP nonce (strict CSP: nonce +
// strict-dynamic, no inline script), no framing, no sniffing, HSTS behind https. Every request
// pays for this, the engine's token and introspection calls too: the headers are built once and
// the nonces drawn from a pool of random bytes refilled in blocks (as node's randomUUID does).
import { randomFillSync } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Context, Next } from 'koa';

export type State = { formAction?: string[] };

/**
 * Each request's nonce, kept on its node request rather than in koa's `ctx.state`: the engine
 * renders its pages (errors, sign-out) on a koa context of its own, which shares only `req` and
 * `res` with ours. A symbol property, not a WeakMap: that costs every request about 1 µs of GC.
 */
const NONCE = Symbol('cspNonce');
type WithNonce = IncomingMessage & { [NONCE]?: string };

/** The nonce in the CSP header of the response to `req` (undefined where securityHeaders did not run). */
export const cspNonceOf = (req: IncomingMessage) => (req as WithNonce)[NONCE];

const CSP_BEFORE_NONCE = "default-src 'none'; script-src 'nonce-";
const CSP_AFTER_NONCE = [
  "' 'strict-dynamic'",
  "style-src 'self'",
  "img-src 'self' https: data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "object-src 'none'",
  "frame-ancestors 'none'",
].join('; ');

const cspHeader = (nonce: string, formAction?: string[]) =>
  CSP_BEFORE_NONCE +
  nonce +
  CSP_AFTER_NONCE +
  // Interaction pages end in a redirect to the client, which form-action also governs.
  (formAction ? `; form-action 'self' ${formAction.join(' ')}` : '');

const NONCE_BYTES = 16;
const pool = Buffer.alloc(NONCE_BYTES * 256);
let used = pool.length;

/** 16 bytes from the CSPRNG, base64, each byte used once. */
const cspNonce = () => {
  if (used === pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  used += NONCE_BYTES;
  return pool.toString('base64', used - NONCE_BYTES, used);
};

/** Every response's headers but the CSP. */
const constantHeaders = (hsts: boolean): [string, string][] => [
  ['X-Content-Type-Options', 'nosniff'],
  ['X-Frame-Options', 'DENY'],
  ['Referrer-Policy', 'no-referrer'],
  ['Cross-Origin-Opener-Policy', 'same-origin'],
  ['Permissions-Policy', 'camera=(), microphone=(), geolocation=(), payment=()'],
  ...(hsts
    ? [['Strict-Transport-Security', 'max-age=31536000; includeSubDomains'] as [string, string]]
    : []),
];

/** The same hardening for responses that carry no page (JSON answered ahead of koa): no script, so no nonce. */
export const staticSecurityHeaders = ({ hsts }: { hsts: boolean }): [string, string][] => [
  ['Content-Security-Policy', "default-src 'none'; base-uri 'none'; frame-ancestors 'none'"],
  ...constantHeaders(hsts),
];

export const securityHeaders = ({ hsts }: { hsts: boolean }) => {
  const headers = constantHeaders(hsts);
  return async (ctx: Context, next: Next) => {
    const nonce = cspNonce();
    (ctx.req as WithNonce)[NONCE] = nonce;
    const res = ctx.res;
    // Set before the engine runs too: its form_post page adds its script's hash to this header.
    res.setHeader('Content-Security-Policy', cspHeader(nonce));
    for (const [name, value] of headers) res.setHeader(name, value);
    await next();
    const { formAction } = ctx.state as State;
    if (formAction && ctx.response.get('Content-Security-Policy'))
      ctx.set('Content-Security-Policy', cspHeader(nonce, formAction));
  };
};
