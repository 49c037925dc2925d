// The OIDC engine (oidc-provider 9), configured: code flow + PKCE S256 only, pairwise subjects,
// refresh rotation, introspection, revocation, RP-initiated and back-channel logout.
import Provider, {
  interactionPolicy,
  type Configuration,
  type KoaContextWithOIDC,
} from 'oidc-provider';
import type { AccountService } from '../accounts/index.ts';
import { requestedAcr, satisfiesAcr } from '../auth/index.ts';
import type { CatalogueItem, ConsentService } from '../consent/index.ts';
import { isFirstPartyClient } from '../clients/index.ts';
import { hostCookie } from '../shared/index.ts';
import { accountClaims, agencyMemberClaim, scopeClaims } from './claims/account-claims.ts';
import type { FederationEngineHooks } from '../federation/index.ts';
import { createOutboundFetch } from './sessions/backchannel-fetch.ts';
import { clientFeatures, clientSettings } from './clients/client-settings.ts';
import {
  assertClientAssertion,
  authMethods,
  fapiFeatures,
  mtlsDiscovery,
  rotateRefreshToken,
  verifyClientCertificates,
  type ClientCertificates,
} from './clients/fapi-profile.ts';
import { createLoadExistingGrant } from './claims/consent-grants.ts';
import {
  adminFeatures,
  adminTokenClaims,
  installAdminEngine,
  withAdminResource,
  type AdminEngine,
} from './clients/admin-engine.ts';
import type { ClaimSources } from './claims/claim-sources.ts';
import { createPairwiseSubs, subjectSector } from './claims/pairwise.ts';
import { clientTokensNotBeforeSeen } from './storage/request-clients.ts';
import { guardConfiguration, retryAfterOn503 } from './unavailable.ts';
import { cacheMetadata, type MetadataCacheControl } from './metadata-caching.ts';
import type { EnginePages } from './engine-types.ts';

/** The browser's session systems, for the sign-out pages (session-mirror.ts). */
export type SessionSystems = {
  current: (ctx: KoaContextWithOIDC) => Promise<string[]>;
  signedOut: (ctx: KoaContextWithOIDC) => Promise<string[] | undefined>;
};

/** The engine's route resuming an interaction once its page is done (oidc-provider: `resume`). */
const RESUME_PATH = /^\/auth\/([^/]+)$/;

const clientName = (ctx: KoaContextWithOIDC) => {
  const client = ctx.oidc?.client;
  return client ? (client.clientName ?? client.clientId) : undefined;
};

/** The engine's page hooks, each giving the HTTP layer's page what it shows. */
const pageHooks = (pages: EnginePages, systems: SessionSystems | undefined) => ({
  error: async (ctx: KoaContextWithOIDC, out: { error: string; error_description?: string }) => {
    // The refused request's ui_locales (OIDC Core 3.1.2.1), as on the sign-in page; read from the
    // query too, since the engine may refuse it before parsing its parameters (an unknown client).
    const asked = ctx.oidc?.params?.ui_locales ?? ctx.query.ui_locales;
    await pages.error(ctx, out, typeof asked === 'string' ? asked : undefined);
  },
  logout: async (ctx: KoaContextWithOIDC, form: string) =>
    pages.logout(ctx, {
      form,
      client: clientName(ctx),
      systems: (await systems?.current(ctx)) ?? [],
    }),
  // client_id comes back only when the citizen chose to stay signed in to One-ID (end_session.js).
  postLogout: async (ctx: KoaContextWithOIDC) => {
    const client = clientName(ctx);
    await pages.postLogout(ctx, {
      client,
      systems: client ? [] : ((await systems?.signedOut(ctx)) ?? []),
    });
  },
});

export type ProviderDeps = {
  issuer: string;
  adapter: NonNullable<Configuration['adapter']>;
  jwks: { keys: object[] };
  cookieKeys: string[];
  pairwiseSalt: string;
  /** The agency a client belongs to: part of its pairwise sector. */
  agencyOf: (clientId: string) => Promise<string | undefined>;
  accounts: AccountService;
  /** When a client was last disabled (epoch seconds), for refusing the refresh tokens it held then. */
  clientTokensNotBefore: (clientId: string) => Promise<number | undefined>;
  pages: EnginePages;
  /** The systems of the browser's session, named on the sign-out pages. */
  sessionSystems?: SessionSystems | undefined;
  sessionAbsoluteSeconds: number;
  sessionIdleSeconds: number;
  proxy: boolean;
  consent: ConsentService;
  /** Records a grant made under a consent with the session's save (session-mirror.ts). */
  grantIssued: (consentId: string, grantId: string) => void;
  catalogue: CatalogueItem[];
  /** Agency hosts the engine may call on loopback or private addresses (OUTBOUND_PRIVATE_HOSTS). */
  outboundPrivateHosts?: readonly string[] | undefined;
  claimSources: ClaimSources;
  /** Administration: the admin API resource server, secret grace period, dynamic registration (admin-engine.ts). */
  admin?: AdminEngine | undefined;
  /** Federation (src/federation): the pairwise-sub index, agencies' member ids, linking after a sign-in. */
  federation?: FederationEngineHooks | undefined;
  /** Client certificates (RFC 8705): the certificate listener or a trusted proxy (fapi-profile.ts). */
  clientCertificates?: ClientCertificates | undefined;
  /** How long discovery and the JWKS may be cached (metadata-caching.ts). */
  metadataCacheControl: MetadataCacheControl;
};

const { Check, base } = interactionPolicy;

/** The engine's cookies: the session one (Path=/) is `__Host-` on https (src/shared/cookie-names.ts). */
export const engineCookieNames = (https: boolean) => ({
  session: hostCookie('oneid_session', https),
  interaction: 'oneid_interaction',
  resume: 'oneid_resume',
});

/** Refresh token lifetime of browser apps (public web clients), from sign-in. */
export const PUBLIC_REFRESH_SECONDS = 86400;

/**
 * The engine's default policy plus step-up: a session below the requested level (acr_values or
 * an essential acr claim, one derivation: requestedAcr) signs in again. The engine's own
 * essential_acr(s) checks want the session's acr to equal a requested value, so a `high` session
 * asked for `substantial`, or a passkey asked for `high`, would prompt again and again: ours
 * replace them (levels are minimums; a method below the level ends in
 * unmet_authentication_requirements, src/oidc/interactions.ts).
 */
const policy = () => {
  const prompts = base();
  const login = prompts.get('login') as InstanceType<typeof interactionPolicy.Prompt>;
  login.checks.remove('essential_acr');
  login.checks.remove('essential_acrs');
  login.checks.add(
    new Check('acr_values', 'the requested level of assurance requires a new sign-in', (ctx) => {
      const { oidc } = ctx;
      if (!oidc.session?.accountId || oidc.result?.login) return Check.NO_NEED_TO_PROMPT;
      const needed = requestedAcr({ acr_values: oidc.params?.acr_values, claims: oidc.claims });
      return satisfiesAcr(oidc.session.acr, needed)
        ? Check.NO_NEED_TO_PROMPT
        : Check.REQUEST_PROMPT;
    }),
  );
  return prompts;
};

export const createProvider = (deps: ProviderDeps): Provider => {
  const pages = pageHooks(deps.pages, deps.sessionSystems);
  /**
   * Whether a refresh or access token was issued up to the second its client was last disabled
   * (clients.tokens_not_before): such tokens stay refused after the client is enabled again. The
   * engine looked the client up earlier in the request; what it found is reused (request-clients.ts).
   */
  const issuedBeforeClientDisabled = async (
    ctx: object,
    token: { kind: string; clientId?: string | undefined; iat?: number | undefined },
  ) => {
    if ((token.kind !== 'RefreshToken' && token.kind !== 'AccessToken') || !token.clientId)
      return false;
    const notBefore = (
      clientTokensNotBeforeSeen(ctx, token.clientId) ?? {
        tokensNotBefore: await deps.clientTokensNotBefore(token.clientId),
      }
    ).tokensNotBefore;
    return notBefore !== undefined && (token.iat ?? 0) <= notBefore;
  };
  const pairwiseSub = createPairwiseSubs(deps.pairwiseSalt);
  const agencyItems = deps.catalogue.filter((i) => i.source === 'agency');
  const agencyByScope = new Map<string, string[]>();
  for (const item of agencyItems)
    for (const scope of item.scopes)
      agencyByScope.set(scope, [...(agencyByScope.get(scope) ?? []), item.name]);
  const loadExistingGrant = createLoadExistingGrant({
    consent: deps.consent,
    isFirstParty: isFirstPartyClient,
    grantIssued: deps.grantIssued,
  });
  const configuration: Configuration = {
    adapter: deps.adapter,
    jwks: deps.jwks as Configuration['jwks'],
    cookies: {
      keys: deps.cookieKeys,
      names: engineCookieNames(new URL(deps.issuer).protocol === 'https:'),
      long: { httpOnly: true, sameSite: 'lax' },
      short: { httpOnly: true, sameSite: 'lax' },
    },
    // acr/amr/auth_time ride on `openid` so every ID token states the assurance actually met
    // and the methods actually used (RFC 8176), not only when a client asked for them.
    claims: {
      ...scopeClaims(deps.catalogue),
      openid: ['sub', 'acr', 'amr', 'auth_time'],
      sid: null,
    } as unknown as Configuration['claims'],
    scopes: ['openid', 'offline_access', ...new Set(deps.catalogue.flatMap((i) => i.scopes))],
    // Grants come from the citizen's consent record (the database), not from the session.
    loadExistingGrant: deps.admin
      ? withAdminResource(loadExistingGrant, deps.admin)
      : loadExistingGrant,
    ...(deps.admin && { extraTokenClaims: adminTokenClaims(deps.admin) }),
    ...clientSettings,
    clientAuthMethods: authMethods(clientSettings.clientAuthMethods, deps.clientCertificates),
    // FAPI 2.0 SP 5.4.1 for fapi2 clients' assertions (fapi-profile.ts).
    assertJwtClientAuthClaimsAndHeader: assertClientAssertion,
    // OIDC Core 8.1: the same citizen gets one stable `sub` per sector, unlinkable across sectors
    // (and across agencies, even on a shared host: subjectSector).
    pairwiseIdentifier: async (_ctx, accountId, client) => {
      const sector = subjectSector(
        await deps.agencyOf(client.clientId),
        String(client.sectorIdentifier),
      );
      const sub = pairwiseSub(sector, accountId);
      // Indexed before it leaves, so an agency naming the citizen by this sub can be resolved (agency links).
      if (!isFirstPartyClient(client.clientId))
        await deps.federation?.subjectIssued(sector, sub, accountId);
      return sub;
    },
    pkce: { required: () => true },
    // OIDC Core 3.1.2.1: redirect_uri is required, even when a client registered only one.
    allowOmittingSingleRegisteredRedirectUri: false,
    features: {
      ...clientFeatures,
      // Per-client FAPI 2.0, DPoP, PAR, signed requests and responses, mutual TLS (fapi-profile.ts).
      ...fapiFeatures(deps.clientCertificates),
      devInteractions: { enabled: false },
      claimsParameter: { enabled: true },
      clientCredentials: { enabled: true },
      // A client may introspect only tokens issued to itself (no cross-agency token inspection).
      // A client introspects only its own tokens; one from before the client was disabled reads inactive.
      introspection: {
        enabled: true,
        allowedPolicy: async (ctx, client, token) =>
          token.clientId === client.clientId && !(await issuedBeforeClientDisabled(ctx, token)),
      },
      revocation: {
        enabled: true,
        allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId,
      },
      userinfo: { enabled: true },
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: pages.logout,
        postLogoutSuccessSource: pages.postLogout,
      },
      ...(deps.admin ? adminFeatures(deps.admin) : {}),
    },
    // Browser apps (docs/integrating.md, single-page apps): a cross-origin call is allowed only
    // from the origin of one of the client's registered redirect URIs, to userinfo for any
    // client and to the token and other client endpoints for public clients only (a client with
    // a secret or key has no business calling from a browser). Never with credentials.
    clientBasedCORS: (ctx, origin, client) =>
      origin !== 'null' &&
      (ctx.oidc.route === 'userinfo' || client.clientAuthMethod === 'none') &&
      (client.redirectUris ?? []).some(
        (uri) => URL.canParse(uri) && new URL(uri).origin === origin,
      ),
    // Refresh tokens go to clients allowed the grant; each use rotates them (RFC 9700 4.14.2)
    // unless they are sender-constrained (FAPI 2.0 SP 5.3.2.1; fapi-profile.ts).
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken,
    findAccount: async (ctx, accountId, token) => {
      // A refresh or access token from before its client was disabled: refused (invalid_grant,
      // invalid_token), even though the client is enabled again.
      if (token && (await issuedBeforeClientDisabled(ctx, token))) return undefined;
      const account = await deps.accounts.findForTokens(accountId);
      if (!account || account.status !== 'active') return undefined;
      return {
        accountId,
        claims: async (use, scope, claims, rejected) => {
          const own = {
            ...accountClaims(account, accountId),
            ...(await agencyMemberClaim(
              deps.federation?.memberId,
              ctx.oidc.client?.clientId,
              accountId,
              { scope, claims, rejected },
            )),
          };
          // Agency-held items asked for (by scope or claims parameter) and not rejected by the grant.
          // The ID token of a code flow carries scope-requested claims only in userinfo (the engine's
          // conformIdTokenClaims), so for it only the claims parameter asks: no needless source call.
          const byScope =
            use === 'id_token' ? [] : scope.split(' ').flatMap((s) => agencyByScope.get(s) ?? []);
          const wanted = new Set([...byScope, ...Object.keys(claims ?? {})]);
          const items = agencyItems.filter((i) => wanted.has(i.name) && !rejected.includes(i.name));
          if (!items.length) return own;
          const sources = await deps.claimSources.resolve(
            items,
            async (sourceClientId) => {
              const source = await ctx.oidc.provider.Client.find(sourceClientId);
              return source?.sectorIdentifier
                ? pairwiseSub(
                    subjectSector(
                      await deps.agencyOf(sourceClientId),
                      String(source.sectorIdentifier),
                    ),
                    accountId,
                  )
                : undefined;
            },
            { accountId, clientId: ctx.oidc.client?.clientId },
          );
          return sources ? { ...own, ...sources } : own;
        },
      };
    },
    interactions: {
      policy: policy(),
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    ttl: {
      AccessToken: 600,
      // FAPI 2.0 SP 5.3.2.1: at most 60 s, for every client.
      AuthorizationCode: 60,
      ClientCredentials: 600,
      IdToken: 600,
      Interaction: 900,
      // A browser app (public web client) keeps its refresh token where page scripts can reach
      // it: one day from sign-in, and a rotation never extends it (the engine's own rule for
      // such clients). Others: 30 days, renewed by each rotation.
      RefreshToken: (ctx, token, client) => {
        if (
          client.applicationType !== 'web' ||
          client.clientAuthMethod !== 'none' ||
          token.isSenderConstrained()
        )
          return 30 * 86400;
        return ctx?.oidc?.entities.RotatedRefreshToken?.remainingTTL ?? PUBLIC_REFRESH_SECONDS;
      },
      Grant: 30 * 86400,
      // Each use re-saves the session: its lifetime is the idle timeout, capped by what is
      // left of the absolute lifetime counted from sign-in.
      Session: (_ctx, session) => {
        const loginTs = (session as { loginTs?: number }).loginTs;
        const left = loginTs
          ? loginTs + deps.sessionAbsoluteSeconds - Math.floor(Date.now() / 1000)
          : deps.sessionAbsoluteSeconds;
        return Math.max(1, Math.min(deps.sessionIdleSeconds, left));
      },
    },
    renderError: pages.error,
    discovery: {
      ui_locales_supported: ['ko', 'en'],
      claims_locales_supported: ['ko', 'en'],
      ...mtlsDiscovery(deps.clientCertificates),
    },
    fetch: createOutboundFetch(deps.outboundPrivateHosts ?? []) as Configuration['fetch'],
  };
  // PostgreSQL or Redis down: temporarily_unavailable (503 + Retry-After), not server_error (unavailable.ts).
  guardConfiguration(configuration, deps.pages.unavailable);
  const provider = new Provider(deps.issuer, configuration);
  provider.use(retryAfterOn503);
  provider.use(cacheMetadata(deps.metadataCacheControl));
  provider.use(verifyClientCertificates(deps.clientCertificates));
  if (deps.admin) installAdminEngine(provider, deps.admin);
  provider.proxy = deps.proxy;
  // "Connected systems" on My One-ID (first and last sign-in per client) are recorded with the
  // session's save that follows authorization.success (session-mirror.ts).
  // Federation: an upstream identity the citizen asked to link by signing in (e.g. with a
  // certificate) is linked when the interaction ends. Its pending link is read as the request
  // resuming the interaction (GET /auth/:uid) starts, so the read goes with the engine's first one
  // (one Redis round trip), rather than alone once the interaction is destroyed.
  const federation = deps.federation;
  if (federation) {
    const readAhead = new WeakMap<
      object,
      { uid: string; read: ReturnType<typeof federation.pendingLink> }
    >();
    provider.use(async (ctx, next) => {
      const uid = ctx.method === 'GET' ? RESUME_PATH.exec(ctx.path)?.[1] : undefined;
      if (uid) readAhead.set(ctx, { uid, read: federation.pendingLink(uid) });
      await next();
    });
    provider.on('interaction.ended', (ctx) => {
      const login = ctx.oidc.result?.login as
        { accountId: string; acr?: string; amr?: string[] } | undefined;
      const uid = ctx.oidc.entities.Interaction?.uid;
      const ahead = readAhead.get(ctx);
      if (login && uid)
        void federation.signedIn(uid, login, ahead?.uid === uid ? ahead.read : undefined);
    });
  }
  return provider;
};
