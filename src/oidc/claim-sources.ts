// Data another agency holds reaches a client without One-ID copying it (OIDC Core 5.6.2):
// One-ID asks the source agency's claims endpoint with a request signed by its own key,
// naming the citizen by the pairwise `sub` the source agency itself knows them by, and returns
// the source's signed answer as an aggregated claim, or a reference (endpoint + a short-lived
// One-ID-signed access token) as a distributed claim. A source that is down or slow is left
// out after a timeout: the response is still served, and the log says which source failed.
// An answer carrying anything beyond the claims asked for (those requested and agreed to) is
// refused whole: it is signed by the source, so One-ID cannot trim it, and passing it on would
// release data the citizen never agreed to.
import { randomUUID } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify, SignJWT, type CryptoKey, type JWTVerifyGetKey } from 'jose';
import type { Logger } from 'pino';
import type { CatalogueItem } from '../consent/index.ts';

// RFC 7519 4.1: claims about the answer itself, not about the citizen, that a source may add.
const REGISTERED_CLAIMS = new Set(['iss', 'sub', 'aud', 'iat', 'exp', 'nbf', 'jti']);
// Only names shaped like catalogue claim names reach the log, so a source cannot put data there.
const CLAIM_NAME = /^[a-z][a-z0-9_]{0,63}$/;

/** A source answered, but with more than One-ID asked for. */
class UnexpectedClaims extends Error {
  constructor(readonly unexpected: string[]) {
    super('answer carries claims not asked for');
  }
}

export type ClaimSourceSigner = { key: CryptoKey; kid: string; alg: string };

type SourceGroup = { endpoint: string; jwksUri: string; sourceClientId: string; delivery: 'aggregated' | 'distributed'; claims: string[] };

export type ClaimSourcesResult = { _claim_names: Record<string, string>; _claim_sources: Record<string, Record<string, string>> };

export const createClaimSources = ({ issuer, signer, timeoutMs, log }: { issuer: string; signer: () => Promise<ClaimSourceSigner>; timeoutMs: number; log: Logger }) => {
  const jwksByUri = new Map<string, JWTVerifyGetKey>();
  const jwksFor = (uri: string) => {
    let jwks = jwksByUri.get(uri);
    if (!jwks) {
      jwks = createRemoteJWKSet(new URL(uri), { timeoutDuration: timeoutMs });
      jwksByUri.set(uri, jwks);
    }
    return jwks;
  };

  const sign = async (payload: Record<string, unknown>, audience: string, typ: string, lifetimeSeconds: number) => {
    const { key, kid, alg } = await signer();
    return new SignJWT(payload)
      .setProtectedHeader({ alg, kid, typ })
      .setIssuer(issuer)
      .setAudience(audience)
      .setIssuedAt()
      .setExpirationTime(`${lifetimeSeconds}s`)
      .setJti(randomUUID())
      .sign(key);
  };

  /** Asks one source for its claims; resolves with its verified JWT, or undefined on any failure. */
  const fetchAggregated = async (group: SourceGroup, sub: string): Promise<string | undefined> => {
    const started = Date.now();
    try {
      const request = await sign({ sub, claims: group.claims }, group.endpoint, 'claims-request+jwt', 60);
      const response = await fetch(group.endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/jwt', accept: 'application/jwt' },
        body: request,
        redirect: 'error',
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (response.status !== 200) throw new Error(`status ${response.status}`);
      const jwt = (await response.text()).trim();
      // Pass on only what the source really signed, for this citizen.
      const { payload } = await jwtVerify(jwt, jwksFor(group.jwksUri), { subject: sub, clockTolerance: 30 });
      if (!group.claims.some((c) => c in payload)) throw new Error('no requested claim in the answer');
      const unexpected = Object.keys(payload).filter((c) => !REGISTERED_CLAIMS.has(c) && !group.claims.includes(c));
      if (unexpected.length) throw new UnexpectedClaims(unexpected);
      return jwt;
    } catch (error) {
      const note = { source: new URL(group.endpoint).host, claims: group.claims, ms: Date.now() - started };
      if (error instanceof UnexpectedClaims) {
        const named = error.unexpected.filter((c) => CLAIM_NAME.test(c));
        log.warn({ ...note, reason: error.message, unexpected: named.slice(0, 20), unnamed: error.unexpected.length - named.length }, 'claim source answered with claims not asked for; answering without its claims');
      } else {
        log.warn({ ...note, reason: (error as Error).name === 'TimeoutError' ? 'timeout' : (error as Error).message }, 'claim source unavailable; answering without its claims');
      }
      return undefined;
    }
  };

  return {
    /**
     * Resolves the agency-held `items` for a citizen. `subFor(sourceClientId)` gives the citizen's
     * pairwise `sub` at that source agency's sector.
     */
    async resolve(items: CatalogueItem[], subFor: (sourceClientId: string) => Promise<string | undefined>): Promise<ClaimSourcesResult | undefined> {
      const groups = new Map<string, SourceGroup>();
      for (const item of items) {
        if (item.source !== 'agency' || !item.sourceEndpoint || !item.sourceJwksUri || !item.sourceClientId) continue;
        const group = groups.get(item.sourceEndpoint) ?? { endpoint: item.sourceEndpoint, jwksUri: item.sourceJwksUri, sourceClientId: item.sourceClientId, delivery: item.delivery ?? 'aggregated', claims: [] };
        group.claims.push(item.name);
        groups.set(item.sourceEndpoint, group);
      }
      const result: ClaimSourcesResult = { _claim_names: {}, _claim_sources: {} };
      await Promise.all(
        [...groups.values()].map(async (group, index) => {
          const sub = await subFor(group.sourceClientId);
          if (!sub) return;
          const name = `src${index + 1}`;
          const source =
            group.delivery === 'distributed'
              ? { endpoint: group.endpoint, access_token: await sign({ sub, claims: group.claims }, group.endpoint, 'at+jwt', 300) }
              : await fetchAggregated(group, sub).then((jwt) => jwt && { JWT: jwt });
          if (!source) return;
          result._claim_sources[name] = source;
          for (const claim of group.claims) result._claim_names[claim] = name;
        }),
      );
      return Object.keys(result._claim_sources).length ? result : undefined;
    },
  };
};

export type ClaimSources = ReturnType<typeof createClaimSources>;
