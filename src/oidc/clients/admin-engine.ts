// Administration inside the engine (docs/admin.md):
// - the admin API is a resource server (RFC 8707): audience `${ISSUER}/admin/api`, scopes
//   admin:read / admin:write, opaque 5-minute access tokens carrying the administrator's
//   account, `auth_time` and `acr`, issued only to One-ID's admin API client;
// - a rotated-out client secret keeps working for CLIENT_SECRET_GRACE_SECONDS: the engine's own
//   client authentication compares secrets with Client#compareClientSecret, which is extended
//   here rather than re-implemented;
// - dynamic client registration (RFC 7591/7592) with database-held initial and registration
//   access tokens, writing through the client service (same validation, same audit).
import Provider, {
  errors,
  type Adapter,
  type AdapterPayload,
  type Configuration,
  type Grant,
  type KoaContextWithOIDC,
} from 'oidc-provider';
import {
  ADMIN_SCOPES,
  DCR_POLICY,
  type DcrService,
  type DcrTokenRecord,
} from '../../admin/index.ts';
import { ADMIN_API_CLIENT_ID } from '../../clients/index.ts';
import { isAppError } from '../../shared/index.ts';

export type AdminEngine = {
  /** `${ISSUER}/admin/api` */
  audience: string;
  /** The admin API scopes an account's roles allow (none for a citizen). */
  scopesFor: (accountId: string) => Promise<string[]>;
  previousSecretMatches: (clientId: string, secret: string) => Promise<boolean>;
  /** Dynamic registration is offered only with this (DCR_ENABLED). */
  dcr?: DcrService | undefined;
};

const ADMIN_TOKEN_TTL = 300;
type Features = NonNullable<Configuration['features']>;
type AdminFeatures = {
  resourceIndicators: Features['resourceIndicators'];
  registration: Features['registration'];
  registrationManagement: Features['registrationManagement'];
};
const RESOURCE_CLIENTS = new Set([ADMIN_API_CLIENT_ID]);
/** Registration fields the engine sets itself. */
const ENGINE_ASSIGNED = new Set([
  'client_id',
  'client_id_issued_at',
  'client_secret',
  'client_secret_expires_at',
]);

/** Domain errors to the engine's OAuth errors (RFC 7591 3.2.2: invalid_client_metadata names the field). */
const toOAuthError = (error: unknown) => {
  if (!isAppError(error) || error.status >= 500) return error;
  if (error.code === 'ERR_INVALID_CLIENT_METADATA')
    return new errors.InvalidClientMetadata(error.message);
  return new errors.InvalidRequest(error.message);
};

const contexts = new WeakMap<
  object,
  { token?: DcrTokenRecord | undefined; input: Record<string, unknown> }
>();

const registrationFeatures = (dcr: DcrService): Omit<AdminFeatures, 'resourceIndicators'> => ({
  registration: {
    enabled: true,
    initialAccessToken: true,
    issueRegistrationAccessToken: true,
    policies: {
      // Runs before the engine's own checks, on registration and on RFC 7592 updates.
      [DCR_POLICY]: async (ctx, properties) => {
        const iat = ctx.oidc.entities.InitialAccessToken;
        const token = iat ? await dcr.initialToken(iat.jti!) : undefined;
        const agency =
          token?.agency ??
          (ctx.oidc.entities.Client
            ? await dcr.agencyOf(ctx.oidc.entities.Client.clientId)
            : undefined);
        if (!agency) throw new errors.InvalidToken('the token does not belong to an agency');
        let input: Record<string, unknown>;
        try {
          input = await dcr.checkRequest(agency, ctx.oidc.body as Record<string, unknown>);
        } catch (error) {
          throw toOAuthError(error);
        }
        contexts.set(ctx, { token, input });
        // RFC 7591 3.2.1: the response shows what was registered, so what One-ID left out
        // (ignored or dropped fields) is left out of the engine's client too.
        for (const field of Object.keys(properties))
          if (!(field in input) && !ENGINE_ASSIGNED.has(field)) delete properties[field];
      },
    },
  },
  registrationManagement: { enabled: true, rotateRegistrationAccessToken: true },
});

export const adminFeatures = (engine: AdminEngine): AdminFeatures => ({
  resourceIndicators: {
    enabled: true,
    getResourceServerInfo: async (_ctx, resource, client) => {
      if (resource !== engine.audience || !RESOURCE_CLIENTS.has(client.clientId))
        throw new errors.InvalidTarget();
      return {
        scope: ADMIN_SCOPES.join(' '),
        audience: engine.audience,
        accessTokenFormat: 'opaque',
        accessTokenTTL: ADMIN_TOKEN_TTL,
      };
    },
  },
  ...(engine.dcr
    ? registrationFeatures(engine.dcr)
    : { registration: { enabled: false }, registrationManagement: { enabled: false } }),
});

/** Admin API tokens carry when and at what level their holder signed in: the API checks both. */
export const adminTokenClaims =
  (engine: AdminEngine): NonNullable<Configuration['extraTokenClaims']> =>
  async (ctx, token) => {
    if (token.kind !== 'AccessToken' || token.aud !== engine.audience) return undefined;
    const code = ctx?.oidc?.entities.AuthorizationCode;
    const acr = code?.acr ?? ctx?.oidc?.entities.RefreshToken?.acr;
    const claims = { ...(code?.authTime && { auth_time: code.authTime }), ...(acr && { acr }) };
    return Object.keys(claims).length ? claims : undefined;
  };

/**
 * The admin API's scopes in the grant follow the account's roles at every authorization (a
 * revoked role stops being granted at once); the rest of the grant is the consent-derived one.
 */
export const withAdminResource =
  (load: (ctx: KoaContextWithOIDC) => Promise<Grant | undefined>, engine: AdminEngine) =>
  async (ctx: KoaContextWithOIDC): Promise<Grant | undefined> => {
    const grant = await load(ctx);
    const resource = ctx.oidc.params?.resource as string | string[] | undefined;
    const resources = Array.isArray(resource) ? resource : resource ? [resource] : [];
    if (
      !grant ||
      !resources.includes(engine.audience) ||
      !RESOURCE_CLIENTS.has(ctx.oidc.client!.clientId)
    )
      return grant;
    const asked = String(ctx.oidc.params?.scope ?? '')
      .split(' ')
      .filter((s) => (ADMIN_SCOPES as readonly string[]).includes(s));
    const allowed = new Set(await engine.scopesFor(ctx.oidc.session!.accountId!));
    const give = asked.filter((s) => allowed.has(s)).join(' ');
    const deny = asked.filter((s) => !allowed.has(s)).join(' ');
    const g = grant as unknown as {
      resources?: Record<string, string>;
      rejected?: { resources?: Record<string, string> };
    };
    if (
      (g.resources?.[engine.audience] ?? '') === give &&
      (g.rejected?.resources?.[engine.audience] ?? '') === deny
    )
      return grant;
    if (g.resources) delete g.resources[engine.audience];
    if (g.rejected?.resources) delete g.rejected.resources[engine.audience];
    if (give) grant.addResourceScope(engine.audience, give);
    if (deny) grant.rejectResourceScope(engine.audience, deny);
    await grant.save();
    return grant;
  };

/** Extends the engine's secret comparison with the previous secret's grace period. */
export const installAdminEngine = (provider: Provider, engine: AdminEngine): void => {
  const prototype = provider.Client.prototype as {
    compareClientSecret: (this: { clientId: string }, actual: string) => boolean | Promise<boolean>;
  };
  const compare = prototype.compareClientSecret;
  prototype.compareClientSecret = async function (this: { clientId: string }, actual: string) {
    return (
      (await compare.call(this, actual)) || engine.previousSecretMatches(this.clientId, actual)
    );
  };
};

/** What the engine's registration endpoints store: clients through the client service, tokens in the database. */
export const createRegistrationStore = (dcr: DcrService) => {
  const request = () => {
    const ctx = Provider.ctx;
    const registration = ctx && contexts.get(ctx);
    if (!ctx || !registration)
      throw new TypeError('clients are registered through the client service');
    return { ctx, registration };
  };

  const tokenAdapter = (kind: 'InitialAccessToken' | 'RegistrationAccessToken') =>
    class DcrTokenAdapter implements Adapter {
      async find(id: string) {
        const record =
          kind === 'InitialAccessToken'
            ? await dcr.initialToken(id)
            : await dcr.registrationToken(id);
        if (!record) return undefined;
        const iat = Math.floor(record.createdAt.getTime() / 1000);
        const exp = record.expiresAt ? Math.floor(record.expiresAt.getTime() / 1000) : undefined;
        const base = kind === 'InitialAccessToken' ? { policies: [DCR_POLICY] } : record.payload;
        return { iat, ...(exp && { exp }), ...base, jti: id, kind } as AdapterPayload;
      }
      async upsert(id: string, payload: AdapterPayload) {
        // Initial access tokens are issued by administrators (src/admin/dcr-service.ts), never by the engine.
        if (kind === 'InitialAccessToken')
          throw new TypeError('initial access tokens are issued by a platform administrator');
        await dcr.saveRegistrationToken(id, payload as Record<string, unknown>);
      }
      async destroy(id: string) {
        if (kind === 'RegistrationAccessToken') await dcr.deleteRegistrationToken(id);
      }
      async findByUid() {
        return undefined;
      }
      async findByUserCode() {
        return undefined;
      }
      async consume() {}
      async revokeByGrantId() {}
    };

  return {
    async upsertClient(id: string, payload: AdapterPayload): Promise<void> {
      const { ctx, registration } = request();
      // RFC 7592 2.2 with rotation (rotateRegistrationAccessToken above): an update replaces the
      // token it presents. The engine finds the token, updates, then destroys it, so the same
      // token sent several times at once would update and rotate several times, leaving several
      // live successors. Taking it here, before anything is written, lets exactly one through.
      const presented =
        ctx.oidc.route === 'client_update'
          ? ctx.oidc.entities.RegistrationAccessToken?.jti
          : undefined;
      if (presented !== undefined && !(await dcr.deleteRegistrationToken(presented)))
        throw new errors.InvalidToken('registration access token already used');
      try {
        if (registration.token)
          await dcr.register(
            registration.token,
            { ...registration.input, client_id: id },
            { clientSecret: payload.client_secret as string | undefined, ip: ctx.ip },
          );
        else
          await dcr.update(
            id,
            { ...registration.input, client_id: id },
            { clientSecret: payload.client_secret as string | undefined, ip: ctx.ip },
          );
      } catch (error) {
        throw toOAuthError(error);
      }
    },
    async destroyClient(id: string): Promise<void> {
      const ctx = Provider.ctx;
      if (ctx?.oidc.route !== 'client_delete')
        throw new TypeError('clients are deleted through the client service');
      await dcr.remove(id, { ip: ctx.ip });
    },
    models: {
      InitialAccessToken: tokenAdapter('InitialAccessToken'),
      RegistrationAccessToken: tokenAdapter('RegistrationAccessToken'),
    } as Record<string, new () => Adapter>,
  };
};

export type RegistrationStore = ReturnType<typeof createRegistrationStore>;
