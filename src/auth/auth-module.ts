// Sign-in methods, wired: passkeys and enrolment always; certificate login only with
// CERT_TRUST_ANCHORS (docs/certificates.md); agency CAs for RFC 8705 client authentication only
// with CLIENT_CERT_TRUST_ANCHORS.
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { AccountService } from '../accounts/index.ts';
import type { Config } from '../config/index.ts';
import type { Clock } from '../shared/index.ts';
import type { KvStore, Secrets } from '../store/index.ts';
import {
  createCertificateModule,
  createClientCertificateAuthority,
  createRecoveryService,
} from './certificate/index.ts';
import { createEnrolmentService } from './enrolment-service.ts';
import { createPasskeyService } from './passkey/index.ts';

type Deps = {
  knex: Knex;
  kv: KvStore;
  clock: Clock;
  accounts: AccountService;
  issuer: string;
  /** TRUSTED_PROXIES and the certificate settings (CERT_*, CLIENT_CERT_TRUST_ANCHORS). */
  config: Pick<Config, 'trustedProxies' | 'certificates'>;
  /** PAIRWISE_SALT keys the decoy answers for unknown passkeys. */
  secrets: Pick<Secrets, 'pairwiseSalt'>;
  /** Shortens the 300 s WebAuthn challenge lifetime (tests only). */
  passkeyChallengeTtlSeconds?: number | undefined;
  log: Logger;
};

export const createAuthModule = ({ knex, kv, clock, accounts, issuer, log, ...deps }: Deps) => {
  const { trustedProxies, certificates: settings } = deps.config;
  const issuerUrl = new URL(issuer);
  const passkeys = createPasskeyService({
    knex,
    kv,
    clock,
    rpId: issuerUrl.hostname,
    rpName: 'One-ID',
    origin: issuerUrl.origin,
    decoySecret: deps.secrets.pairwiseSalt,
    challengeTtlSeconds: deps.passkeyChallengeTtlSeconds,
  });
  const certificates = settings.trustAnchorsPath
    ? createCertificateModule({
        settings: { ...settings, trustAnchorsPath: settings.trustAnchorsPath },
        issuer,
        trustedProxies,
        knex,
        kv,
        clock,
        accounts,
        passkeys,
      })
    : undefined;
  if (certificates && settings.revocationFailOpen)
    log.warn(
      'CERT_REVOCATION_FAIL_OPEN=true: certificates whose revocation status cannot be obtained are accepted (audited as revocation "unknown")',
    );
  return {
    passkeys,
    enrolment: createEnrolmentService({ knex, accounts, passkeys }),
    /** Certificate login, when CERT_TRUST_ANCHORS is set. */
    certificates,
    /** Passkeys and certificates of a citizen: register, remove, unlink (My One-ID). */
    signInMethods: certificates?.recovery ?? createRecoveryService({ knex, passkeys }),
    // RFC 8705 2.1 (tls_client_auth): agency CAs, trusted only when CLIENT_CERT_TRUST_ANCHORS says so.
    clientCertificateAuthority:
      settings.clientTrustAnchorsPath === undefined
        ? undefined
        : createClientCertificateAuthority({
            anchorsPath: settings.clientTrustAnchorsPath,
            knex,
            log,
            revocation: {
              failOpen: settings.revocationFailOpen,
              timeoutMs: settings.revocationTimeoutMs,
              crlUrls: settings.crlUrls,
            },
          }),
  };
};

export type AuthModule = ReturnType<typeof createAuthModule>;
