// Certificate login, assembled from its settings: the validator over the configured trust
// anchors, the login use cases, and account recovery (with adding certificates to an account). The composition root calls this only
// when CERT_TRUST_ANCHORS is set.
import { readFileSync } from 'node:fs';
import type { Knex } from 'knex';
import type { AccountService } from '../../accounts/index.ts';
import { ConfigError, type CertificateConfig } from '../../config/index.ts';
import type { Clock } from '../../shared/index.ts';
import type { KvStore } from '../../store/index.ts';
import type { PasskeyService } from '../passkey/index.ts';
import { createCertificateLinkService } from './certificate-link-service.ts';
import { createCertificateLoginService } from './certificate-login-service.ts';
import { createCertificateValidator } from './validation/chain-validator.ts';
import { createRecoveryService } from './recovery/recovery-service.ts';

type Deps = {
  settings: CertificateConfig & { trustAnchorsPath: string };
  issuer: string;
  trustedProxies: readonly string[];
  knex: Knex;
  kv: KvStore;
  clock: Clock;
  accounts: AccountService;
  passkeys: PasskeyService;
};

/** Throws (naming the setting) when the anchor bundle cannot be read or holds no certificate. */
export const createCertificateModule = ({
  settings,
  issuer,
  trustedProxies,
  knex,
  kv,
  clock,
  accounts,
  passkeys,
}: Deps) => {
  let trustAnchorsPem: string;
  try {
    trustAnchorsPem = readFileSync(settings.trustAnchorsPath, 'utf8');
  } catch (cause) {
    throw new ConfigError([`CERT_TRUST_ANCHORS: cannot read ${settings.trustAnchorsPath}`], {
      cause,
    });
  }
  let validator;
  try {
    validator = createCertificateValidator({
      trustAnchorsPem,
      policyOids: settings.policyOids,
      revocation: {
        failOpen: settings.revocationFailOpen,
        timeoutMs: settings.revocationTimeoutMs,
        crlUrls: settings.crlUrls,
      },
      now: clock.now,
    });
  } catch (cause) {
    throw new ConfigError(
      [`CERT_TRUST_ANCHORS: ${settings.trustAnchorsPath} is not a PEM bundle of CA certificates`],
      { cause },
    );
  }
  const login = createCertificateLoginService({
    knex,
    kv,
    clock,
    accounts,
    validator,
    issuer,
    mappingRule: settings.mappingRule,
    trustedProxies,
    headerFormat: settings.headerFormat,
  });
  const linking = createCertificateLinkService({
    knex,
    kv,
    clock,
    validator,
    issuer,
    mappingRule: settings.mappingRule,
  });
  return {
    trustAnchorsPem,
    validator,
    login,
    recovery: createRecoveryService({ knex, passkeys, linking }),
  };
};

export type CertificateModule = ReturnType<typeof createCertificateModule>;
