// The clients domain for a server: the client service over its per-instance cache, a client's
// agency, My One-ID's directory of systems, and One-ID's own first-party clients, registered.
import type { Knex } from 'knex';
import type { Config } from '../config/index.ts';
import type { Clock, SecretBox } from '../shared/index.ts';
import type { ChangeFeed } from '../store/index.ts';
import { createClientCache, type StampMirror } from './client-cache.ts';
import { createClientService, type EngineMetadataCheck } from './client-service.ts';
import { ACCOUNT_CLIENT_ID, ADMIN_API_CLIENT_ID, ADMIN_CLIENT_ID } from './first-party.ts';
import { serverOffer } from './metadata-policy.ts';
import { requiresFapi2, type ProtectedItem } from './security-profile.ts';
import { createSystemDirectory } from './system-directory.ts';

type Deps = {
  knex: Knex;
  clock: Clock;
  secretBox: SecretBox;
  issuer: string;
  /** CLIENT_SECRET_GRACE_SECONDS, and what the server offers (metadata-policy.ts serverOffer). */
  config: Pick<Config, 'clientSecretGraceSeconds' | 'certificates' | 'trustedProxies'>;
  /** The claims catalogue (src/consent): allowances may only name its items. */
  claims: () => Promise<ProtectedItem[]>;
  /** The stamps' shared copy (Redis), so every instance sees a change at once. */
  mirror: StampMirror | undefined;
  feed: ChangeFeed | undefined;
  /** The engine's own metadata validation (src/oidc/clients/client-check.ts). */
  engineCheck: EngineMetadataCheck;
};

/**
 * The client service itself, with a client's agency and My One-ID's directory: whoever needs
 * the service takes this module as it.
 */
export const createClientsModule = async ({ knex, issuer, claims, config, ...deps }: Deps) => {
  // The engine reads a client on every request: cached per instance, valid until any change (client-cache.ts).
  const cache = createClientCache({ knex, mirror: deps.mirror, feed: deps.feed });
  const service = createClientService({
    knex,
    secretBox: deps.secretBox,
    clock: deps.clock,
    secretGraceSeconds: config.clientSecretGraceSeconds,
    knownClaims: async () => new Set((await claims()).map((i) => i.name)),
    // Sensitive and agency-held items are for fapi2 clients only (security-profile.ts).
    protectedClaims: async () => new Set((await claims()).filter(requiresFapi2).map((i) => i.name)),
    cache,
    engineCheck: deps.engineCheck,
    // What this server's settings offer (the certificate methods): the CLI refuses the rest too.
    offer: serverOffer(config),
  });
  await service.ensureFirstPartyClient(ACCOUNT_CLIENT_ID, {
    client_name: 'My One-ID',
    redirect_uris: [`${issuer}/account/callback`],
    post_logout_redirect_uris: [`${issuer}/account/signed-out`],
  });
  // Administration (docs/admin.md): the console and administrators' scripts sign in through One-ID.
  await service.ensureFirstPartyClient(ADMIN_CLIENT_ID, {
    client_name: 'One-ID 관리 콘솔 (Admin console)',
    redirect_uris: [`${issuer}/admin/callback`],
  });
  await service.ensureFirstPartyClient(ADMIN_API_CLIENT_ID, {
    client_name: 'One-ID admin API',
    redirect_uris: ['http://127.0.0.1/callback'],
    application_type: 'native',
  });
  return {
    ...service,
    /** A client's agency (cached like the client): the pages name it, and pairwise subjects are per agency. */
    agencyOf: (clientId: string) =>
      cache.get('agency', clientId, async () => (await service.find(clientId))?.agency),
    /** My One-ID's directory of agency systems. */
    directory: createSystemDirectory({ knex, issuer }),
  };
};

export type ClientsModule = Awaited<ReturnType<typeof createClientsModule>>;
