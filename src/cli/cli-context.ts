// The services the CLI needs, on the same database the server uses (joining a running
// embedded server over its loopback socket rather than opening its files twice).
import { createAccountService } from '../accounts/index.ts';
import { createAuditService } from '../audit/index.ts';
import { createClientService } from '../clients/index.ts';
import { createCatalogueService } from '../consent/index.ts';
import type { Config } from '../config/index.ts';
import { createSigningKeyService } from '../oidc/signing-keys.ts';
import { createSessionService } from '../sessions/index.ts';
import { createSecretBox, systemClock } from '../shared/index.ts';
import { migrateLatest, openDatabase, resolveSecrets } from '../store/index.ts';

export const createCliContext = async (config: Config) => {
  const { secrets } = resolveSecrets(config);
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolMax: 2 });
  await migrateLatest(db.knex);
  const { knex } = db;
  const secretBox = createSecretBox(secrets.keyEncryptionKeys);
  const clock = systemClock;
  const catalogue = createCatalogueService({ knex });
  await catalogue.seed();
  const clients = createClientService({ knex, secretBox, knownClaims: async () => new Set((await catalogue.list()).map((i) => i.name)) });
  return {
    catalogue,
    accounts: createAccountService({ knex, clock, enrolmentTtlSeconds: config.enrolmentTtlSeconds, issuer: config.issuer }),
    clients,
    // No engine here: sessions are marked ended and their tokens queued; the servers do the rest.
    sessions: createSessionService({ knex, clock, issuer: config.issuer, clients }),
    signingKeys: createSigningKeyService({ knex, secretBox, clock, activationDelaySeconds: config.keyActivationDelaySeconds }),
    audit: createAuditService({ knex }),
    close: () => db.close(),
  };
};

export type CliContext = Awaited<ReturnType<typeof createCliContext>>;
