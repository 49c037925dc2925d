// The engine's side of per-client security profiles (clients/security-profile.ts): the FAPI 2.0
// Security Profile for clients whose metadata says `fapi2`, FAPI 2.0 Message Signing (JAR through
// PAR, JARM, RFC 9701 introspection, signed userinfo), DPoP (RFC 9449) and mutual-TLS client
// certificates (RFC 8705) from the certificate listener or a trusted proxy: self-signed ones pinned
// in the client's jwks, and (tls_client_auth) ones issued by the agency CAs the operator trusts.
import { X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import type { ClientAuthMethod, Configuration, KoaContextWithOIDC } from 'oidc-provider';
import {
  isCertificateError,
  isTrustedProxy,
  parseForwardedCertificate,
  parseForwardedChain,
  type ClientCertificateAuthority,
  type ForwardedCertificateFormat,
  type SubjectField,
} from '../../auth/certificate/index.ts';
import { FAPI2_CLIENT_ALGS } from '../../clients/index.ts';

/** Where client certificates come from: the listener's own handshake, or the trusted proxy's header. */
export type ClientCertificates = {
  /** https://<issuer host>:CERT_LOGIN_PORT when the certificate listener runs: mtls_endpoint_aliases. */
  listenerOrigin?: string | undefined;
  trustedProxies: readonly string[];
  header: string;
  headerFormat: ForwardedCertificateFormat;
  /** RFC 8705 2.1 (tls_client_auth): the agency CAs trusted for client certificates, if any. */
  authority?: ClientCertificateAuthority | undefined;
};

type MtlsFeature = NonNullable<NonNullable<Configuration['features']>['mTLS']>;

/** FAPI 2.0 SP 5.4.1: the algorithms a fapi2 client may sign with (client assertions, request objects). */
const CLIENT_ALGS: ReadonlySet<string> = new Set(FAPI2_CLIENT_ALGS);

/**
 * The engine's error classes, imported when a hook first refuses something: the hooks run inside
 * a running engine, and the CLI imports this module (through client-check.ts) without loading it.
 */
const engineErrors = async () => (await import('oidc-provider')).errors;

/** Whether the engine's client chose (or was given) fapi2: extra metadata keeps its snake_case name. */
const isFapi2 = (client: unknown) =>
  (client as { security_profile?: unknown } | undefined)?.security_profile === 'fapi2';

/**
 * The client certificate of this request: the TLS peer's on the certificate listener, else the
 * single forwarded header from a trusted proxy (the rules of certificate sign-in). Undefined
 * when there is none; a malformed or repeated header counts as none.
 */
export const requestCertificate = (
  ctx: KoaContextWithOIDC,
  source: ClientCertificates,
): X509Certificate | undefined => {
  const socket = ctx.req.socket as TLSSocket;
  if (socket.encrypted) {
    const raw = socket.getPeerCertificate()?.raw;
    return raw ? new X509Certificate(raw) : undefined;
  }
  const peer = socket.remoteAddress;
  if (!peer || !source.trustedProxies.length || !isTrustedProxy(peer, source.trustedProxies))
    return undefined;
  try {
    const der = parseForwardedCertificate(
      ctx.req.headersDistinct[source.header],
      source.headerFormat,
    );
    return der ? new X509Certificate(der) : undefined;
  } catch {
    return undefined;
  }
};

/** The intermediates sent with the client certificate: the TLS peer chain, or the proxy's list. */
const requestChain = (ctx: KoaContextWithOIDC, source: ClientCertificates): Uint8Array[] => {
  const socket = ctx.req.socket as TLSSocket;
  if (socket.encrypted) {
    const chain: Uint8Array[] = [];
    let cert = socket.getPeerCertificate(true) as DetailedPeerCertificate | undefined;
    // The chain ends where a certificate names itself as issuer (Node links a root to itself).
    while (cert?.issuerCertificate && cert.issuerCertificate !== cert && chain.length < 8) {
      cert = cert.issuerCertificate;
      chain.push(cert.raw);
    }
    return chain;
  }
  try {
    return parseForwardedChain(ctx.req.headersDistinct[`${source.header}-chain`]);
  } catch {
    return [];
  }
};

/**
 * A request's client certificate check: `reason` when the certificate was refused (certificate-
 * errors.ts), and the refusal to record once the engine has named the client it was sent for.
 */
type Verdict = { reason?: string; refusal?: { clientId: string; reason: string } };
const verdicts = new WeakMap<IncomingMessage, Verdict>();

/** Notes that the engine refused the request's certificate for its client (recorded after it answers). */
const noteRefusal = (ctx: KoaContextWithOIDC, reason: string) => {
  const verdict = verdicts.get(ctx.req);
  const clientId = ctx.oidc.client?.clientId;
  if (verdict && clientId) verdict.refusal = { clientId, reason };
};

/**
 * RFC 8705 2.1: the engine asks synchronously whether a client certificate is trusted; the path,
 * revocation included, is checked here first, before the engine reads the request. Only POSTs
 * (token, PAR, introspection, revocation) authenticate clients. A certificate the engine then
 * refused for a tls_client_auth client is audited and logged once the answer is ready.
 */
export const verifyClientCertificates =
  (source: ClientCertificates | undefined) =>
  async (ctx: KoaContextWithOIDC, next: () => Promise<unknown>) => {
    const authority = source?.authority;
    const cert = authority && ctx.method === 'POST' ? requestCertificate(ctx, source) : undefined;
    if (!authority || !cert) return next();
    const reason = await authority.verify(cert.raw, requestChain(ctx, source)).then(
      () => undefined,
      (error: unknown) => (isCertificateError(error) ? error.reason : 'malformed'),
    );
    const verdict: Verdict = reason ? { reason } : {};
    verdicts.set(ctx.req, verdict);
    try {
      return await next();
    } finally {
      if (verdict.refusal)
        await authority.refused({ ...verdict.refusal, der: cert.raw, ip: ctx.ip });
    }
  };

/** Whether client certificates can reach the engine at all (listener or trusted proxy). */
export const mtlsAvailable = (source: ClientCertificates | undefined) =>
  Boolean(source && (source.listenerOrigin || source.trustedProxies.length));

/**
 * The client authentication methods offered: self_signed_tls_client_auth where certificates
 * arrive, and tls_client_auth where agency CAs are trusted too (CLIENT_CERT_TRUST_ANCHORS).
 */
export const authMethods = (
  base: readonly ClientAuthMethod[],
  source: ClientCertificates | undefined,
): ClientAuthMethod[] => [
  ...base,
  ...(mtlsAvailable(source) ? (['self_signed_tls_client_auth'] as const) : []),
  ...(mtlsAvailable(source) && source?.authority ? (['tls_client_auth'] as const) : []),
];

/** The engine features of the profiles; `mtls` switches on RFC 8705 where certificates arrive. */
export const fapiFeatures = (source: ClientCertificates | undefined) => {
  const mtls = mtlsAvailable(source);
  return {
    // FAPI 2.0 for the clients that chose (or were given) it; every other client is plain OIDC.
    fapi: {
      enabled: true,
      profile: (_ctx: KoaContextWithOIDC, client: unknown) =>
        isFapi2(client) ? ('2.0' as const) : undefined,
    },
    dPoP: { enabled: true, allowReplay: false },
    pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: false },
    // Request objects: signed ones only (no `none` among the algorithms), and for fapi2 clients
    // ES256 or PS256 only (FAPI 2.0 SP 5.4.1), with exp, nbf and aud (the engine's FAPI checks).
    requestObjects: {
      enabled: true,
      requireSignedRequestObject: false,
      assertJwtClaimsAndHeader: async (
        ctx: KoaContextWithOIDC,
        claims: { exp?: number; nbf?: number; aud?: unknown },
        header: { alg?: string },
        client: unknown,
      ) => {
        // A pushed request was checked at the PAR endpoint; the engine stores plain ones unsigned.
        if (!isFapi2(client) || 'PushedAuthorizationRequest' in ctx.oidc.entities) return;
        const errors = await engineErrors();
        if (!CLIENT_ALGS.has(header.alg ?? ''))
          throw new errors.InvalidRequestObject(
            'security_profile fapi2 allows request objects signed with ES256 or PS256 only',
          );
        // FAPI 2.0 Message Signing 5.3.1 (the engine's own FAPI checks, which this hook replaces).
        for (const claim of ['exp', 'aud', 'nbf'] as const)
          if (claims[claim] === undefined)
            throw new errors.InvalidRequestObject(`Request Object is missing the '${claim}' claim`);
        const lifetime = claims.exp! - claims.nbf!;
        if (!(lifetime > 0 && lifetime <= 3600))
          throw new errors.InvalidRequestObject(
            "Request Object 'exp' claim too far from 'nbf' claim",
          );
      },
    },
    jwtResponseModes: { enabled: true },
    jwtIntrospection: { enabled: true },
    jwtUserinfo: { enabled: true },
    mTLS: {
      enabled: mtls,
      certificateBoundAccessTokens: mtls,
      selfSignedTlsClientAuth: mtls,
      tlsClientAuth: mtls && Boolean(source?.authority),
      getCertificate: (ctx: KoaContextWithOIDC) =>
        source ? requestCertificate(ctx, source) : undefined,
      certificateAuthorized: (ctx: KoaContextWithOIDC) => {
        const reason = verdicts.get(ctx.req)?.reason;
        if (reason) noteRefusal(ctx, reason);
        return verdicts.has(ctx.req) && !reason;
      },
      certificateSubjectMatches: (ctx: KoaContextWithOIDC, field: SubjectField, value: string) => {
        const cert = source && requestCertificate(ctx, source);
        const matches = Boolean(cert && source.authority?.subjectMatches(cert.raw, field, value));
        if (!matches) noteRefusal(ctx, 'subject_mismatch');
        return matches;
      },
    } as MtlsFeature,
  };
};

/**
 * FAPI 2.0 SP 5.4.1: a fapi2 client's assertion is ES256 or PS256 and names the issuer as its
 * audience (the engine's own 2.0 check).
 */
export const assertClientAssertion: NonNullable<
  Configuration['assertJwtClientAuthClaimsAndHeader']
> = async (ctx, claims, header, client) => {
  if (!isFapi2(client)) return;
  const errors = await engineErrors();
  if (!CLIENT_ALGS.has(String(header.alg)))
    throw new errors.InvalidClientAuth(
      'security_profile fapi2 allows client assertions signed with ES256 or PS256 only',
    );
  if (claims.aud !== ctx.oidc.issuer)
    throw new errors.InvalidClientAuth('audience (aud) must equal the issuer identifier url');
};

/**
 * FAPI 2.0 SP 5.3.2.1: a sender-constrained refresh token is not rotated (the client's key or
 * certificate protects it); others rotate on every use (RFC 9700 4.14.2).
 */
export const rotateRefreshToken: NonNullable<Configuration['rotateRefreshToken']> = (ctx) => {
  const { RefreshToken: token, Client: client } = ctx.oidc.entities;
  return !(isFapi2(client) || token?.isSenderConstrained());
};

/** RFC 8705 5: the endpoints a client reaches with its certificate, on the certificate listener. */
export const mtlsDiscovery = (source: ClientCertificates | undefined) => {
  if (!source?.listenerOrigin) return {};
  const at = (path: string) => `${source.listenerOrigin}${path}`;
  return {
    mtls_endpoint_aliases: {
      token_endpoint: at('/token'),
      pushed_authorization_request_endpoint: at('/request'),
      introspection_endpoint: at('/token/introspection'),
      revocation_endpoint: at('/token/revocation'),
      userinfo_endpoint: at('/me'),
    },
  };
};

/** Paths the certificate listener hands to the engine (the mtls_endpoint_aliases). */
export const MTLS_ENGINE_PATHS = [
  '/token',
  '/request',
  '/token/introspection',
  '/token/revocation',
  '/me',
] as const;

/** Settings under which the registration check accepts every field a profile may use (client-check.ts). */
export const CHECK_CERTIFICATES: ClientCertificates = {
  listenerOrigin: 'https://registration-check.invalid',
  trustedProxies: [],
  header: 'client-cert',
  headerFormat: 'rfc9440',
  // Registration only reads the methods offered; nothing is authenticated with this.
  authority: {
    verify: () => Promise.reject(new Error('the registration check authenticates no one')),
    subjectMatches: () => false,
    refused: async () => undefined,
  },
};
