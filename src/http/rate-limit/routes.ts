// Where the limits apply. The engine's client-authenticated endpoints (token, introspection,
// revocation, PAR) are limited before the engine runs, per client_id and address; our sign-in
// ceremonies (passkey, certificate, upstream identity providers, linking, recovery) and
// enrolment links per address; the admin API and the agency links API per bearer token and
// per address.
const ADMIN_API = /^\/admin\/api(\/|$)/;
const AGENCY_LINKS_API = /^\/api\/agency-links(\/|$)/;
import type { IncomingMessage } from 'node:http';
import coBody from 'co-body';
import type { Context, Next } from 'koa';
import { isRateLimited, type LimitName, type RateLimits } from './limiter.ts';

/** The engine's routes (oidc-provider defaults) where a client authenticates. */
export const CLIENT_AUTH_PATHS = new Set([
  '/token',
  '/token/introspection',
  '/token/revocation',
  '/request',
]);
// The engine's own body limit (oidc-provider lib/shared/selective_body.js): bigger bodies it refuses itself.
const ENGINE_BODY_LIMIT = 56 * 1024;
const MAX_CLIENT_ID = 256;

const bounded = (value: unknown) =>
  typeof value === 'string' && value.length > 0 && value.length <= MAX_CLIENT_ID
    ? value
    : undefined;

/** RFC 6749 2.3.1: `Basic base64(urlencode(client_id):urlencode(secret))`. The id only; nothing is verified here. */
export const basicClientId = (authorization: string | undefined): string | undefined => {
  const match = /^Basic\s+([A-Za-z0-9+/=]{1,4096})\s*$/i.exec(authorization ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const user = decoded.slice(0, Math.max(0, decoded.indexOf(':')));
  try {
    return bounded(decodeURIComponent(user.replace(/\+/g, ' ')));
  } catch {
    return bounded(user);
  }
};

/** client_id from a form body, or the `iss` (else `sub`) of a client_assertion JWT, decoded without verification. */
export const formClientId = (body: string): string | undefined => {
  const form = new URLSearchParams(body);
  const named = bounded(form.get('client_id'));
  if (named) return named;
  const payload = form.get('client_assertion')?.split('.')[1];
  if (!payload || payload.length > 16_384) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as {
      iss?: unknown;
      sub?: unknown;
    };
    return bounded(claims.iss) ?? bounded(claims.sub);
  } catch {
    return undefined;
  }
};

/**
 * Reads a body of known length and puts it back on the stream (unshift in the same tick as the
 * last read, before 'end' can be emitted), so the engine still reads and parses it itself.
 */
const peekBody = (req: IncomingMessage, length: number) =>
  new Promise<Buffer | undefined>((resolve) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const finish = (body?: Buffer) => {
      req.off('readable', onReadable);
      req.off('end', onStop);
      req.off('error', onStop);
      req.off('close', onStop);
      resolve(body);
    };
    const onStop = () => finish(undefined);
    const onReadable = () => {
      let chunk: Buffer | null;
      while (received < length && (chunk = req.read() as Buffer | null) !== null) {
        chunks.push(chunk);
        received += chunk.length;
      }
      if (received < length) return;
      const body = Buffer.concat(chunks, received);
      req.unshift(body);
      finish(body);
    };
    req.on('readable', onReadable);
    req.once('end', onStop);
    req.once('error', onStop);
    req.once('close', onStop);
  });

/** A chunked body over the engine's limit: refused here, as the engine would. */
class BodyTooLarge extends Error {}

/**
 * A body sent without Content-Length (chunked) cannot be peeked and put back before its end: it is
 * read whole, up to the engine's limit, and handed to the engine as `req.body`, which the engine
 * reads when the stream is already consumed (oidc-provider lib/shared/selective_body.js).
 * Undefined when it is larger than the engine accepts.
 */
const readChunked = async (ctx: Context): Promise<Buffer | undefined> => {
  try {
    const body = Buffer.from(await coBody.text(ctx, { limit: ENGINE_BODY_LIMIT }));
    (ctx.req as IncomingMessage & { body?: Buffer }).body = body;
    return body;
  } catch (error) {
    if ((error as { status?: unknown }).status === 413) return undefined;
    throw error;
  }
};

/** The client named in a form body, counted whether the body has a Content-Length or is chunked. */
const bodyClientId = async (ctx: Context) => {
  if (!ctx.is('application/x-www-form-urlencoded')) return undefined;
  const length = ctx.request.length;
  if (length === undefined && ctx.get('transfer-encoding')) {
    const body = await readChunked(ctx);
    if (!body) throw new BodyTooLarge();
    return formClientId(body.toString('utf8'));
  }
  if (!length || length > ENGINE_BODY_LIMIT) return undefined;
  const body = await peekBody(ctx.req, length);
  return body ? formClientId(body.toString('utf8')) : undefined;
};

/**
 * Before the engine: a client (named by Basic auth, `client_id` or its assertion's `iss`, never
 * trusted for anything but choosing the counter) gets its allowance per address, so a caller
 * naming another agency's client_id cannot spend that agency's allowance. Refusals are OAuth
 * errors: 429 + Retry-After + `temporarily_unavailable` (docs/security.md says why not `slow_down`).
 */
export const clientRateLimit = (limits: RateLimits) => async (ctx: Context, next: Next) => {
  if (ADMIN_API.test(ctx.path)) return apiRateLimit(limits, ctx, next, adminCounters);
  if (AGENCY_LINKS_API.test(ctx.path)) return apiRateLimit(limits, ctx, next, agencyLinkCounters);
  if (ctx.method !== 'POST' || !CLIENT_AUTH_PATHS.has(ctx.path)) return next();
  try {
    const basic = basicClientId(ctx.get('authorization'));
    if (basic) {
      // The usual case: both counters at once, in one Redis round trip. A request refused for its
      // address thus also spends one of its client's allowance from that same address.
      await Promise.all([
        limits.take('tokenAddress', ctx.ip),
        limits.take('token', `${basic}\u0000${ctx.ip}`),
      ]);
    } else {
      // The address first: a caller over its limit is refused before its body is read.
      await limits.take('tokenAddress', ctx.ip);
      const clientId = await bodyClientId(ctx);
      if (clientId) await limits.take('token', `${clientId}\u0000${ctx.ip}`);
    }
  } catch (error) {
    if (error instanceof BodyTooLarge) {
      ctx.status = 413;
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { error: 'invalid_request', error_description: 'the request body is too large' };
      return;
    }
    if (!isRateLimited(error)) throw error;
    ctx.status = 429;
    ctx.set('Retry-After', String(error.retryAfter));
    ctx.set('Cache-Control', 'no-store');
    ctx.body = {
      error: 'temporarily_unavailable',
      error_description: `too many requests; retry after ${error.retryAfter} seconds`,
    };
    return;
  }
  await next();
};

// Every step that starts, continues or finishes a sign-in or a change of sign-in methods:
// passkey and certificate ceremonies; an upstream identity provider (each start fetches its
// metadata, each return redeems a code there); the upstream's callback; linking an upstream
// account (passkey proof, confirm, enrol, sign in another way); and the recovery and security
// pages' ceremonies (register a passkey, add a certificate, remove or rename them), not the pages themselves.
const SIGN_IN = [
  /^\/interaction\/[^/]+\/(passkey|certificate|upstream|federation)\//,
  /^\/federation\/callback$/,
  /^\/account\/(recover|security)\/(passkey|passkeys|certificate|certificates)\//,
];
const ENROLMENT = /^\/enrol\/(?!done$)[^/]+(\/(options|verify))?$/;

const bearer = (authorization: string) => /^Bearer\s+(\S{1,4096})\s*$/i.exec(authorization)?.[1];

type Counters = (ctx: Context, token: string | undefined) => [LimitName, string][];

/** The admin API: per address and per bearer token (whatever answers the path). */
const adminCounters: Counters = (ctx, token) => [
  ['admin', `address\u0000${ctx.ip}`],
  ...(token ? [['admin', `token\u0000${token}`] as [LimitName, string]] : []),
];

/**
 * The agency links API: per access token (a client's, issued by our token endpoint), with the
 * token endpoint's allowance; and per address, 10x (bounds a caller sending a new token each time).
 */
const agencyLinkCounters: Counters = (ctx, token) => [
  ['tokenAddress', `agency-links\u0000${ctx.ip}`],
  ...(token ? [['token', `agency-links\u0000${token}`] as [LimitName, string]] : []),
];

/** An API authenticated by a bearer token: its counters (one Redis round trip), else problem+json 429. */
const apiRateLimit = async (limits: RateLimits, ctx: Context, next: Next, counters: Counters) => {
  try {
    await Promise.all(
      counters(ctx, bearer(ctx.get('authorization'))).map(([name, key]) => limits.take(name, key)),
    );
  } catch (error) {
    if (!isRateLimited(error)) throw error;
    ctx.status = 429;
    ctx.set('Retry-After', String(error.retryAfter));
    ctx.set('Cache-Control', 'no-store');
    ctx.type = 'application/problem+json';
    ctx.body = {
      type: 'about:blank',
      title: error.code,
      status: 429,
      detail: error.message,
      code: error.code,
      message: error.message,
    };
    return;
  }
  await next();
};

// The passkey ceremony of the sign-in page: its route takes the sign-in counter itself
// (signInCounter) once it has read the body, together with the interaction and the ceremony's
// own reads (one Redis round trip), and decides on the counter first.
const COUNTED_BY_ROUTE = /^\/interaction\/[^/]+\/passkey\/(options|verify)$/;
const counters = new WeakMap<object, () => Promise<void>>();

/**
 * The sign-in counter of this request, taken at the first call (later calls get the same answer):
 * a RateLimitedError when the address has spent its allowance. Resolves at once on a route the
 * middleware below does not count this way.
 */
export const signInCounter = (ctx: Context): Promise<void> =>
  counters.get(ctx)?.() ?? Promise.resolve();

/** On our routes (behind the error middleware, which renders the 429 page or problem+json). */
export const routeRateLimits = (limits: RateLimits) => async (ctx: Context, next: Next) => {
  if (COUNTED_BY_ROUTE.test(ctx.path)) {
    let taken: Promise<void> | undefined;
    const take = () => {
      if (!taken) {
        taken = limits.take('signIn', ctx.ip);
        taken.catch(() => undefined); // answered by whoever awaits it
      }
      return taken;
    };
    counters.set(ctx, take);
    try {
      await next();
    } catch (error) {
      // Refused before its counter was asked for (bad body, CSRF) or for another reason: counted
      // all the same, and a spent allowance is the answer, as if it had been checked first.
      await take();
      throw error;
    }
    await take();
    return;
  }
  if (SIGN_IN.some((route) => route.test(ctx.path))) await limits.take('signIn', ctx.ip);
  else if (ENROLMENT.test(ctx.path)) await limits.take('enrolment', ctx.ip);
  await next();
};
