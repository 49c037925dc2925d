// Response hardening for every route: a per-request CSP nonce (strict CSP: nonce +
// strict-dynamic, no inline script), no framing, no sniffing, HSTS behind https.
import { randomBytes } from 'node:crypto';
import type { Context, Next } from 'koa';

export type State = { cspNonce: string; formAction?: string[] };

const cspHeader = (nonce: string, formAction?: string[]) =>
  [
    "default-src 'none'",
    `script-src 'nonce-${nonce}' 'strict-dynamic'`,
    "style-src 'self'",
    "img-src 'self' https: data:",
    "connect-src 'self'",
    "font-src 'self'",
    "base-uri 'none'",
    "object-src 'none'",
    "frame-ancestors 'none'",
    // Interaction pages end in a redirect to the client, which form-action also governs.
    ...(formAction ? [`form-action 'self' ${formAction.join(' ')}`] : []),
  ].join('; ');

/** The same hardening for responses that carry no page (JSON answered ahead of koa): no script, so no nonce. */
export const staticSecurityHeaders = ({ hsts }: { hsts: boolean }): [string, string][] => [
  ['Content-Security-Policy', "default-src 'none'; base-uri 'none'; frame-ancestors 'none'"],
  ['X-Content-Type-Options', 'nosniff'],
  ['X-Frame-Options', 'DENY'],
  ['Referrer-Policy', 'no-referrer'],
  ['Cross-Origin-Opener-Policy', 'same-origin'],
  ['Permissions-Policy', 'camera=(), microphone=(), geolocation=(), payment=()'],
  ...(hsts
    ? [['Strict-Transport-Security', 'max-age=31536000; includeSubDomains'] as [string, string]]
    : []),
];

export const securityHeaders =
  ({ hsts }: { hsts: boolean }) =>
  async (ctx: Context, next: Next) => {
    const state = ctx.state as State;
    state.cspNonce = randomBytes(16).toString('base64');
    // Set before the engine runs too: its form_post page adds its script's hash to this header.
    ctx.set('Content-Security-Policy', cspHeader(state.cspNonce));
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('Cross-Origin-Opener-Policy', 'same-origin');
    ctx.set('Permissions-Policy', 'camera=(), microphone=(), geolocation=(), payment=()');
    if (hsts) ctx.set('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
    await next();
    if (state.formAction && ctx.response.get('Content-Security-Policy'))
      ctx.set('Content-Security-Policy', cspHeader(state.cspNonce, state.formAction));
  };
