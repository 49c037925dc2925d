// How long relying parties and the proxies between may keep discovery and the JWKS: both change
// only when the engine is rebuilt (a key rotation, a catalogue change, a deploy). Every other
// answer of the engine keeps its own `Cache-Control: no-store` (RFC 6749 5.1, OIDC Core 5.3.2).
import type { KoaContextWithOIDC } from 'oidc-provider';

/**
 * The longest the JWKS may be cached whatever the activation delay: a key removed from the set
 * (pruned, or dropped after a leak) is trusted by caches at most this long, and a key that signs
 * at once (`keys rotate --now`) is unknown to them at most this long. One request per cache every
 * 10 minutes is already no load, and longer saves nothing (jose's remote key set refetches every
 * 10 minutes, openid-client 6 every 5, whatever the header says).
 */
export const JWKS_MAX_AGE_CAP_SECONDS = 600;

/** Discovery changes only with a deploy or the claims catalogue (new scopes, claims). */
export const DISCOVERY_MAX_AGE_SECONDS = 3600;

/** How often each instance looks for a key change made elsewhere, unless told sooner (the feed). */
export const DEFAULT_KEY_RELOAD_SECONDS = 30;

export type KeyPublication = {
  /** KEY_ACTIVATION_DELAY_SECONDS: a rotated key is published this long before it signs. */
  activationDelaySeconds: number;
  /** How often each instance looks for a rotation made elsewhere (and publishes it). */
  reloadSeconds: number;
};

/**
 * The JWKS's max-age. An instance publishes a rotated key within `reloadSeconds`; a set fetched
 * from it just before must expire before the key signs: reload + max-age <= activation delay.
 * Halved, so a proxy's copy cached again by a client that ignores `Age` (RFC 9111 4.2.3), which
 * can then keep it twice as long, still expires in time. 0 (revalidate each time) when the delay
 * leaves no room.
 */
export const jwksMaxAgeSeconds = ({ activationDelaySeconds, reloadSeconds }: KeyPublication) =>
  Math.max(
    0,
    Math.min(JWKS_MAX_AGE_CAP_SECONDS, Math.floor((activationDelaySeconds - reloadSeconds) / 2)),
  );

/** RFC 9111 5.2.2: `no-cache` still lets a cache keep the answer and revalidate it (ETag, 304). */
const publicFor = (seconds: number) =>
  seconds > 0 ? `public, max-age=${seconds}` : 'public, no-cache';

export type MetadataCacheControl = { discovery: string; jwks: string };

/** The Cache-Control of discovery and of the JWKS for this key publication. */
export const metadataCacheControl = (keys: KeyPublication): MetadataCacheControl => ({
  discovery: publicFor(DISCOVERY_MAX_AGE_SECONDS),
  jwks: publicFor(jwksMaxAgeSeconds(keys)),
});

/**
 * Engine middleware: a 200 from discovery or the JWKS says how long it may be kept (the HTTP
 * layer keeps that header with the answer it serves again, src/http/middleware/engine-cache.ts).
 * Errors of those routes carry no freshness and are not kept.
 */
export const cacheMetadata =
  (cacheControl: MetadataCacheControl) =>
  async (ctx: KoaContextWithOIDC, next: () => Promise<unknown>) => {
    await next();
    const route = ctx.oidc?.route;
    if ((route === 'discovery' || route === 'jwks') && ctx.status === 200)
      ctx.set('Cache-Control', cacheControl[route]);
  };
