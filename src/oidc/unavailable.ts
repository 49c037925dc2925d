// The engine's side of a dependency outage: a PostgreSQL or Redis failure inside the engine
// (its adapter, findAccount, loadExistingGrant) becomes OAuth `temporarily_unavailable` with
// HTTP 503, instead of `server_error` 500. At the authorization endpoint the engine redirects it
// to the client (RFC 6749 4.1.2.1 defines exactly this error there); token, userinfo and the
// other JSON endpoints answer it as JSON; pages get the readable "unavailable" page.
import {
  errors,
  type AdapterConstructor,
  type Configuration,
  type KoaContextWithOIDC,
} from 'oidc-provider';
import {
  isUnavailableError,
  UNAVAILABLE,
  UNAVAILABLE_RETRY_AFTER_SECONDS,
} from '../store/index.ts';

export const temporarilyUnavailable = (cause: unknown): Error => {
  const error = new errors.OIDCProviderError(503, 'temporarily_unavailable', { cause });
  // Exposed: the engine shows exposed errors as they are (not as server_error).
  return Object.assign(error, {
    expose: true,
    error_description: 'One-ID is temporarily unavailable; try again shortly',
    [UNAVAILABLE]: true,
  });
};

const translate = (error: unknown) =>
  isUnavailableError(error) ? temporarilyUnavailable(error) : error;

/** Wraps an async function so that dependency failures leave it as `temporarily_unavailable`. */
export const guarded =
  <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
  async (...args: A): Promise<R> => {
    try {
      return await fn(...args);
    } catch (error) {
      throw translate(error);
    }
  };

type Method = (...args: unknown[]) => unknown;

/** `method` on `target`, with dependency failures (thrown or rejected) as `temporarily_unavailable`. */
const guardedMethod =
  (target: object, method: Method) =>
  (...args: unknown[]): Promise<unknown> => {
    let result: unknown;
    try {
      result = method.apply(target, args);
    } catch (error) {
      return Promise.reject(translate(error));
    }
    // One derived promise per call: every token request makes several adapter calls.
    return Promise.resolve(result).then(undefined, (error: unknown) => {
      throw translate(error);
    });
  };

/**
 * Every adapter method, guarded (a Proxy, so whatever the wrapped adapter offers stays there).
 * Each method is wrapped once per adapter (the engine keeps one adapter per model).
 */
export const guardAdapter = (Adapter: AdapterConstructor): AdapterConstructor =>
  function (this: unknown, name: string) {
    const inner = new Adapter(name) as unknown as Record<PropertyKey, unknown>;
    const wrapped = new Map<PropertyKey, { method: Method; guarded: Method }>();
    return new Proxy(inner, {
      get(target, property) {
        const value = Reflect.get(target, property, target);
        if (typeof value !== 'function') return value;
        const kept = wrapped.get(property);
        if (kept?.method === value) return kept.guarded;
        const guarded = guardedMethod(target, value as Method);
        wrapped.set(property, { method: value as Method, guarded });
        return guarded;
      },
    });
  } as unknown as AdapterConstructor;

/**
 * Applies the above to an engine configuration: findAccount and loadExistingGrant (with the
 * adapter, guarded in its stack by storage/engine-adapter.ts, the engine's ways to PostgreSQL
 * and Redis), and its error page (`unavailable` renders `temporarily_unavailable`, when given).
 */
export const guardConfiguration = (
  configuration: Configuration,
  unavailablePage?: (ctx: KoaContextWithOIDC) => Promise<void>,
): Configuration => {
  if (configuration.findAccount)
    configuration.findAccount = guarded(
      configuration.findAccount as (...a: unknown[]) => Promise<never>,
    ) as Configuration['findAccount'];
  if (configuration.loadExistingGrant)
    configuration.loadExistingGrant = guarded(
      configuration.loadExistingGrant as (...a: unknown[]) => Promise<never>,
    ) as Configuration['loadExistingGrant'];
  const renderError = configuration.renderError;
  if (unavailablePage && renderError) {
    configuration.renderError = async (ctx, out, error) =>
      out.error === 'temporarily_unavailable' ? unavailablePage(ctx) : renderError(ctx, out, error);
  }
  return configuration;
};

/** RFC 9110 10.2.3: every 503 of the engine says when to try again. */
export const retryAfterOn503 = async (ctx: KoaContextWithOIDC, next: () => Promise<unknown>) => {
  await next();
  if (ctx.status === 503) ctx.set('Retry-After', String(UNAVAILABLE_RETRY_AFTER_SECONDS));
};
