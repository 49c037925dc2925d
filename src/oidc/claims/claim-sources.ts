// Data another agency holds reaches a client without One-ID copying it (OIDC Core 5.6.2):
// One-ID asks the source agency's claims endpoint with a request signed by its own key,
// naming the citizen by the pairwise `sub` the source agency itself knows them by, and returns
// the source's signed answer as an aggregated claim, or a reference (endpoint + a short-lived
// access token) as a distributed claim. A source that is down or slow is left out after a
// timeout: the response is still served, and the log says which source failed.
// The source-sector `sub` must never reach a client: clients of different agencies would all
// read the same identifier and could link their pairwise subs. So an answer is bound to its
// request by echoing the request's `jti` and carries no `sub` (OIDC Core 5.6.2: aggregated JWTs
// typically should not), and a distributed access token is encrypted for the source.
// An answer carrying anything beyond the claims asked for (those requested and agreed to) is
// refused whole: it is signed by the source, so One-ID cannot trim it, and passing it on would
// release data the citizen never agreed to.
// A distributed token is remembered before it is handed out (`remember`), so that a withdrawal
// can tell its source to refuse it (src/consent/source-events.ts).
import { randomUUID } from 'node:crypto';
import {
  CompactEncrypt,
  createRemoteJWKSet,
  customFetch,
  importJWK,
  jwtVerify,
  SignJWT,
  type CryptoKey,
  type JWK,
  type RemoteJWKSet,
} from 'jose';
import type { Logger } from 'pino';
import type { CatalogueItem, IssuedToken } from '../../consent/index.ts';
import type { OutboundFetch } from '../../shared/index.ts';

// RFC 7519 4.1: claims about the answer itself, not about the citizen, that a source may add,
// plus the echo of the request's `jti`. Not `sub`: see above.
const ANSWER_CLAIMS = new Set(['iss', 'aud', 'iat', 'exp', 'nbf', 'jti', 'request_jti']);
// A distributed access token's lifetime (OIDC Core 5.6.2 leaves it to the issuer).
const DISTRIBUTED_TOKEN_SECONDS = 300;
// Key management for a distributed access token, by the key's `alg` (or its `kty` when absent).
const ENCRYPTION_ALGS = new Set(['ECDH-ES', 'RSA-OAEP-256']);
// Only names shaped like catalogue claim names reach the log, so a source cannot put data there.
const CLAIM_NAME = /^[a-z][a-z0-9_]{0,63}$/;

/** One-ID will not pass on this source's claims; the message is safe to log (no personal data). */
class Refused extends Error {
  constructor(
    reason: string,
    readonly unexpected: string[] = [],
  ) {
    super(reason);
  }
}

export type ClaimSourceSigner = { key: CryptoKey; kid: string; alg: string };

type SourceGroup = {
  endpoint: string;
  jwksUri: string;
  sourceClientId: string;
  delivery: 'aggregated' | 'distributed';
  eventsUri: string | undefined;
  claims: string[];
};

/** Whom a response is for: a distributed token is remembered under both. */
export type ClaimRecipient = { accountId: string; clientId: string | undefined };

export type ClaimSourcesResult = {
  _claim_names: Record<string, string>;
  _claim_sources: Record<string, Record<string, string>>;
};

export const createClaimSources = ({
  issuer,
  signer,
  timeoutMs,
  log,
  fetch,
  remember,
}: {
  issuer: string;
  signer: () => Promise<ClaimSourceSigner>;
  timeoutMs: number;
  log: Logger;
  /** Outgoing requests (the SSRF guard with OUTBOUND_PRIVATE_HOSTS). */
  fetch: OutboundFetch;
  /** Stores a distributed token before it is handed out; a failure leaves the claim out. */
  remember: (token: IssuedToken) => Promise<void>;
}) => {
  const jwksByUri = new Map<string, RemoteJWKSet>();
  const jwksFor = (uri: string) => {
    let jwks = jwksByUri.get(uri);
    if (!jwks) {
      // jose re-fetches the JWKS for an unknown `kid`, at most once per 30 s (cooldownDuration).
      jwks = createRemoteJWKSet(new URL(uri), {
        timeoutDuration: timeoutMs,
        [customFetch]: fetch,
      });
      jwksByUri.set(uri, jwks);
    }
    return jwks;
  };

  /** The source's public encryption key (`use: "enc"`), from the same cached JWKS as its signing keys. */
  const encryptionKeyFor = async (uri: string): Promise<{ jwk: JWK; alg: string } | undefined> => {
    const jwks = jwksFor(uri);
    if (!jwks.fresh) await jwks.reload();
    for (const jwk of jwks.jwks()?.keys ?? []) {
      const alg = jwk.alg ?? (jwk.kty === 'RSA' ? 'RSA-OAEP-256' : 'ECDH-ES');
      if (jwk.use === 'enc' && ENCRYPTION_ALGS.has(alg)) return { jwk, alg };
    }
    return undefined;
  };

  const sign = async (
    payload: Record<string, unknown>,
    audience: string,
    typ: string,
    lifetimeSeconds: number,
    jti = randomUUID(),
  ) => {
    const { key, kid, alg } = await signer();
    return new SignJWT(payload)
      .setProtectedHeader({ alg, kid, typ })
      .setIssuer(issuer)
      .setAudience(audience)
      .setIssuedAt()
      .setExpirationTime(`${lifetimeSeconds}s`)
      .setJti(jti)
      .sign(key);
  };

  /** Logs why a source's claims are left out: its host, the claim names and the reason, never the citizen. */
  const leaveOut = (group: SourceGroup, started: number, error: unknown) => {
    const note = {
      source: new URL(group.endpoint).host,
      claims: group.claims,
      ms: Date.now() - started,
    };
    if (error instanceof Refused) {
      const named = error.unexpected.filter((c) => CLAIM_NAME.test(c));
      const unexpected = error.unexpected.length
        ? { unexpected: named.slice(0, 20), unnamed: error.unexpected.length - named.length }
        : {};
      log.warn(
        { ...note, reason: error.message, ...unexpected },
        'claim source refused; answering without its claims',
      );
    } else {
      log.warn(
        {
          ...note,
          reason: (error as Error).name === 'TimeoutError' ? 'timeout' : (error as Error).message,
        },
        'claim source unavailable; answering without its claims',
      );
    }
    return undefined;
  };

  /** Asks one source for its claims; resolves with its verified JWT, or undefined on any failure. */
  const fetchAggregated = async (group: SourceGroup, sub: string): Promise<string | undefined> => {
    const started = Date.now();
    try {
      const jti = randomUUID();
      const request = await sign(
        { sub, claims: group.claims },
        group.endpoint,
        'claims-request+jwt',
        60,
        jti,
      );
      const response = await fetch(group.endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/jwt', accept: 'application/jwt' },
        body: request,
        redirect: 'error',
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (response.status !== 200) throw new Error(`status ${response.status}`);
      const jwt = (await response.text()).trim();
      // Pass on only what the source really signed, for One-ID, in answer to this very request.
      const { payload } = await jwtVerify(jwt, jwksFor(group.jwksUri), {
        audience: issuer,
        clockTolerance: 30,
      });
      if ('sub' in payload) throw new Refused('answer carries sub');
      if (payload.request_jti !== jti) throw new Refused('request_jti does not match the request');
      if (!group.claims.some((c) => c in payload))
        throw new Refused('no requested claim in the answer');
      const unexpected = Object.keys(payload).filter(
        (c) => !ANSWER_CLAIMS.has(c) && !group.claims.includes(c),
      );
      if (unexpected.length) throw new Refused('answer carries claims not asked for', unexpected);
      return jwt;
    } catch (error) {
      return leaveOut(group, started, error);
    }
  };

  /**
   * A reference the client redeems at the source: a One-ID-signed token (nested JWT, RFC 7519
   * 5.2) encrypted to the source's key, so only the source reads the `sub` inside it.
   */
  const distributedReference = async (
    group: SourceGroup,
    sub: string,
    recipient: ClaimRecipient,
  ): Promise<Record<string, string> | undefined> => {
    const started = Date.now();
    try {
      // Without an events endpoint a withdrawal could not reach the source (docs/claim-sources.md 3).
      if (!group.eventsUri || !recipient.clientId)
        throw new Refused('no events endpoint (sourceEventsUri) for the source');
      const encryption = await encryptionKeyFor(group.jwksUri);
      if (!encryption) throw new Refused('no encryption key (use "enc") in the source JWKS');
      const jti = randomUUID();
      await remember({
        jti,
        accountId: recipient.accountId,
        clientId: recipient.clientId,
        sourceEndpoint: group.endpoint,
        eventsUri: group.eventsUri,
        expiresAt: new Date(Date.now() + DISTRIBUTED_TOKEN_SECONDS * 1000),
      });
      const signed = await sign(
        { sub, claims: group.claims },
        group.endpoint,
        'at+jwt',
        DISTRIBUTED_TOKEN_SECONDS,
        jti,
      );
      const key = await importJWK(encryption.jwk, encryption.alg);
      const token = await new CompactEncrypt(new TextEncoder().encode(signed))
        .setProtectedHeader({
          alg: encryption.alg,
          enc: 'A256GCM',
          cty: 'JWT',
          ...(encryption.jwk.kid ? { kid: encryption.jwk.kid } : {}),
        })
        .encrypt(key);
      return { endpoint: group.endpoint, access_token: token };
    } catch (error) {
      return leaveOut(group, started, error);
    }
  };

  return {
    /**
     * Resolves the agency-held `items` for a citizen. `subFor(sourceClientId)` gives the citizen's
     * pairwise `sub` at that source agency's sector; it goes only to that source, never to the client.
     */
    async resolve(
      items: CatalogueItem[],
      subFor: (sourceClientId: string) => Promise<string | undefined>,
      recipient: ClaimRecipient,
    ): Promise<ClaimSourcesResult | undefined> {
      const groups = new Map<string, SourceGroup>();
      for (const item of items) {
        if (
          item.source !== 'agency' ||
          !item.sourceEndpoint ||
          !item.sourceJwksUri ||
          !item.sourceClientId
        )
          continue;
        const group = groups.get(item.sourceEndpoint) ?? {
          endpoint: item.sourceEndpoint,
          jwksUri: item.sourceJwksUri,
          sourceClientId: item.sourceClientId,
          delivery: item.delivery ?? 'aggregated',
          eventsUri: item.sourceEventsUri,
          claims: [],
        };
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
              ? await distributedReference(group, sub, recipient)
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
