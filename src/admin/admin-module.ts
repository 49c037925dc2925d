// The administration domain, wired: roles and agencies, the scoped client registry, audit
// search, dynamic registration and manifests, all behind the same guard (src/admin/roles.ts).
import type { Knex } from 'knex';
import type { AccountService } from '../accounts/index.ts';
import type { AuditService } from '../audit/index.ts';
import type { ClientService } from '../clients/index.ts';
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
  /** ADMIN_REAUTH_SECONDS: a change needs a sign-in at most this old. */
  reauthSeconds: number;
  /** ADMIN_MIN_ACR: the level every console session and API token must carry. */
  minAcr: string;
  /**
   * After a client is disabled or deleted: sign every citizen out of it (the sessions service's
   * `logoutClientEverywhere`, when the deployment has one).
   */
  onClientDisabled?: ((clientId: string, actor: string) => Promise<void>) | undefined;
};

export const createAdminModule = ({
  knex,
  accounts,
  clients,
  audit,
  clock,
  reauthSeconds,
  minAcr,
  onClientDisabled,
}: Deps) => {
  const guard = createGuard({ clock, reauthSeconds, minAcr });
  const admins = createAdminService({ knex, accounts, guard });
  return {
    guard,
    admins,
    registry: createRegistryService({ clients, guard, onClientDisabled }),
    audit: createAuditSearch({ knex, audit, guard }),
    dcr: createDcrService({
      knex,
      clients,
      guard,
      clock,
      agencyExists: admins.agencyExists,
      onClientDisabled,
    }),
    manifest: createManifestService({ clients, admins, audit, guard, onClientDisabled }),
  };
};

export type AdminModule = ReturnType<typeof createAdminModule>;
