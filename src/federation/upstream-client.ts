// One-ID as the relying party of upstream identity providers, with openid-client (it does the
// protocol checks: issuer, state, nonce, PKCE, ID token signature against the upstream's JWKS,
// audience, expiry). Discovery is fetched on first use with a deadline and cached, so an
// upstream that is down costs one failed click, never the sign-in page.
import { createHash } from 'node:crypto';
import * as oidc from 'openid-client';
import type { OutboundFetch } from '../shared/index.ts';
import type { UpstreamRecord } from './upstream-repo.ts';

/** What the sign-in needs of an upstream (its record with the secret opened). */
export type UpstreamCredentials = Pick<
  UpstreamRecord,
  'id' | 'issuer' | 'clientId' | 'tokenEndpointAuthMethod' | 'scopes'
> & { clientSecret: string | undefined };

/** One sign-in's secrets, kept server-side between the redirect and the callback. */
export type FlowChecks = { state: string; nonce: string; verifier: string };

/** The outcome of the code exchange: the validated ID token claims (plus userinfo when asked). */
export type VerifiedSignIn = { issuer: string; subject: string; claims: Record<string, unknown> };

/** Why an exchange failed: the upstream is unreachable, or its answer was refused. */
export class UpstreamFailure extends Error {
  readonly kind: 'unavailable' | 'rejected' | 'denied';
  readonly reason: string;
  constructor(kind: UpstreamFailure['kind'], reason: string, cause?: unknown) {
    super(`${kind}: ${reason}`, { cause });
    this.name = 'UpstreamFailure';
    this.kind = kind;
    this.reason = reason;
  }
}

const METADATA_TTL_MS = 3600_000;
// A failed discovery is remembered briefly, so repeated clicks on a dead upstream fail fast.
const FAILURE_TTL_MS = 10_000;
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Sorts an openid-client/network error into unavailable (no usable answer) or rejected. */
export const classify = (error: unknown): UpstreamFailure => {
  if (error instanceof UpstreamFailure) return error;
  const e = error as {
    name?: string;
    code?: string;
    status?: number;
    error?: string;
    cause?: { status?: number; message?: unknown };
    message?: string;
  };
  if (e.name === 'TimeoutError' || e.name === 'AbortError' || error instanceof TypeError)
    return new UpstreamFailure(
      'unavailable',
      e.name === 'TimeoutError' ? 'timeout' : 'network',
      error,
    );
  if (error instanceof oidc.AuthorizationResponseError)
    return new UpstreamFailure(
      e.error === 'access_denied' ? 'denied' : 'rejected',
      `authorization_error:${String(e.error).slice(0, 64)}`,
      error,
    );
  const status = e.status ?? e.cause?.status;
  if (typeof status === 'number' && status >= 500)
    return new UpstreamFailure('unavailable', `http_${status}`, error);
  if (error instanceof oidc.ResponseBodyError)
    return new UpstreamFailure('rejected', `token_error:${String(e.error).slice(0, 64)}`, error);
  // openid-client's message is generic; the cause (oauth4webapi) names the claim or check that failed.
  const detail = e.cause?.message;
  return new UpstreamFailure(
    'rejected',
    `${e.code ?? e.name ?? 'error'}: ${String(e.message ?? '').slice(0, 200)}${typeof detail === 'string' ? ` (${detail.slice(0, 200)})` : ''}`,
    error,
  );
};

export const createUpstreamClient = ({
  redirectUri,
  timeoutMs,
  fetch,
}: {
  redirectUri: string;
  timeoutMs: number;
  /** Every request to the upstream (the SSRF guard with OUTBOUND_PRIVATE_HOSTS); global fetch when absent. */
  fetch?: OutboundFetch | undefined;
}) => {
  type Entry = { key: string; config: Promise<oidc.Configuration>; expiresAt: number };
  const cache = new Map<string, Entry>();

  const clientAuth = (u: UpstreamCredentials) =>
    u.tokenEndpointAuthMethod === 'none'
      ? oidc.None()
      : u.tokenEndpointAuthMethod === 'client_secret_post'
        ? oidc.ClientSecretPost(u.clientSecret!)
        : oidc.ClientSecretBasic(u.clientSecret!);

  /** The upstream's configuration: cached per registration (a changed secret or issuer refetches). */
  const configuration = (u: UpstreamCredentials): Promise<oidc.Configuration> => {
    const key = createHash('sha256')
      .update(
        JSON.stringify([u.issuer, u.clientId, u.clientSecret ?? '', u.tokenEndpointAuthMethod]),
      )
      .digest('base64url');
    const cached = cache.get(u.id);
    if (cached && cached.key === key && cached.expiresAt > Date.now()) return cached.config;
    const issuer = new URL(u.issuer);
    // http only for a loopback issuer (development and tests); registration refuses other http URLs.
    const insecure = issuer.protocol === 'http:' && LOOPBACK.has(issuer.hostname);
    const config = oidc
      .discovery(
        issuer,
        u.clientId,
        { redirect_uris: [redirectUri], response_types: ['code'] },
        clientAuth(u),
        {
          timeout: timeoutMs / 1000,
          // Kept by the configuration for every later request (token, JWKS, userinfo).
          ...(fetch && { [oidc.customFetch]: fetch as oidc.CustomFetch }),
          execute: [
            oidc.enableNonRepudiationChecks,
            ...(insecure ? [oidc.allowInsecureRequests] : []),
          ],
        },
      )
      .catch((error: unknown) => {
        throw classify(error);
      });
    cache.set(u.id, { key, config, expiresAt: Date.now() + METADATA_TTL_MS });
    config.catch(() => {
      const entry = cache.get(u.id);
      if (entry?.config === config) entry.expiresAt = Date.now() + FAILURE_TTL_MS;
    });
    return config;
  };

  return {
    redirectUri,

    /** The authorization URL (code + PKCE S256, state, nonce). Throws UpstreamFailure. */
    async authorizationUrl(
      u: UpstreamCredentials,
      checks: FlowChecks,
      extra: { uiLocales?: string | undefined } = {},
    ): Promise<URL> {
      const config = await configuration(u);
      return oidc.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: u.scopes.join(' '),
        state: checks.state,
        nonce: checks.nonce,
        code_challenge: await oidc.calculatePKCECodeChallenge(checks.verifier),
        code_challenge_method: 'S256',
        ...(extra.uiLocales && { ui_locales: extra.uiLocales }),
      });
    },

    /**
     * Redeems the code of `callbackUrl` (our redirect URI with the upstream's query) and returns
     * the validated claims; fetches userinfo when `userinfoClaims` are missing from the ID token.
     * Throws UpstreamFailure.
     */
    async exchange(
      u: UpstreamCredentials,
      callbackUrl: URL,
      checks: FlowChecks,
      userinfoClaims: string[] = [],
    ): Promise<VerifiedSignIn> {
      try {
        const config = await configuration(u);
        const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, {
          pkceCodeVerifier: checks.verifier,
          expectedState: checks.state,
          expectedNonce: checks.nonce,
          idTokenExpected: true,
        });
        const idToken = tokens.claims();
        if (!idToken) throw new UpstreamFailure('rejected', 'no_id_token');
        let claims: Record<string, unknown> = { ...idToken };
        const missing = userinfoClaims.filter((c) => claims[c] === undefined);
        if (missing.length && config.serverMetadata().userinfo_endpoint) {
          const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, idToken.sub);
          // The ID token's protocol claims win; userinfo only adds attributes.
          claims = { ...userinfo, ...claims };
        }
        return { issuer: idToken.iss, subject: idToken.sub, claims };
      } catch (error) {
        throw classify(error);
      }
    },
  };
};

export type UpstreamClient = ReturnType<typeof createUpstreamClient>;
