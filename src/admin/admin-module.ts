// The administration domain, wired: roles and agencies, the scoped client registry, audit
// search, dynamic registration and manifests, all behind the same guard (src/admin/roles.ts).
import type { Knex } from 'knex';
import type { AccountService } from '../accounts/index.ts';
import type { AuditService } from '../audit/index.ts';
import type { ClientService } from '../clients/index.ts';
import type { Config } from '../config/index.ts';
import type { SessionService } from '../sessions/index.ts';
import type { Clock } from '../shared/index.ts';
import { createAdminService } from './admin-service.ts';
import { createAuditSearch } from './audit-search.ts';
import { createDcrService } from './dcr-service.ts';
import { createManifestService } from './manifest-service.ts';
import { createRegistryService } from './registry-service.ts';
import { createGuard } from './roles.ts';

type Deps = {
  knex: Knex;
  accounts: AccountService;
  clients: ClientService;
  audit: AuditService;
  clock: Clock;
  /**
   * ADMIN_REAUTH_SECONDS (a change needs a sign-in at most this old), ADMIN_MIN_ACR (the level
   * every console session and API token must carry), DCR_ENABLED (the engine offers dynamic
   * registration, RFC 7591/7592).
   */
  config: Pick<Config, 'admin'>;
  /** The admin API's resource indicator is `${issuer}/admin/api`. */
  issuer: string;
  /**
   * Signs every citizen out of a client once it is disabled or deleted. A getter: in a server
   * the sessions service is built after the engine, which is built with this module (app.ts).
   */
  sessions: () => Pick<SessionService, 'logoutClientEverywhere'>;
};

export const createAdminModule = ({
  knex,
  accounts,
  clients,
  audit,
  clock,
  config,
  issuer,
  sessions,
}: Deps) => {
  const { reauthSeconds, minAcr, dcrEnabled } = config.admin;
  const onClientDisabled = async (clientId: string, actor: string) =>
    void (await sessions().logoutClientEverywhere(clientId, 'client_disabled', { actor }));
  const guard = createGuard({ clock, reauthSeconds, minAcr });
  const admins = createAdminService({ knex, accounts, guard });
  const dcr = createDcrService({
    knex,
    clients,
    guard,
    clock,
    agencyExists: admins.agencyExists,
    onClientDisabled,
  });
  return {
    guard,
    admins,
    registry: createRegistryService({ clients, guard, onClientDisabled }),
    audit: createAuditSearch({ knex, audit, guard }),
    dcr,
    /** What the engine serves for administration (src/oidc/clients/admin-engine.ts's AdminEngine). */
    engine: {
      audience: `${issuer}/admin/api`,
      scopesFor: admins.apiScopesFor,
      previousSecretMatches: clients.matchesPreviousSecret,
      dcr: dcrEnabled ? dcr : undefined,
    },
    manifest: createManifestService({ clients, admins, audit, guard, onClientDisabled }),
  };
};

export type AdminModule = ReturnType<typeof createAdminModule>;
