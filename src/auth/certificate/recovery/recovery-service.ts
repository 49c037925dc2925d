// Account recovery after a lost passkey: a citizen who signed in with a certificate (high
// assurance, recently; the HTTP layer checks both) may register a new passkey and remove lost
// ones. Removing the last passkey is allowed only while a certificate is linked, so the
// citizen always keeps a way in. Certificates can also be added (with `linking`, when
// certificate login is on) and given a name of the citizen's choosing.
import type { Knex } from 'knex';
import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import type { Account } from '../../../accounts/index.ts';
import { appendAudit } from '../../../audit/index.ts';
import { AppError } from '../../../shared/index.ts';
import { listCredentials, type PasskeyService } from '../../passkey/index.ts';
import type { CertificateLinkService } from '../certificate-link-service.ts';
import { labelCertificate, listCertificates } from '../certificate-repo.ts';
import { deleteCertificate, deletePasskey, lockAccount } from './recovery-repo.ts';

const binding = (accountId: string) => `recover:${accountId}`;

/** The longest certificate name a citizen may choose, in characters (not UTF-16 units). */
export const CERTIFICATE_LABEL_MAX = 60;

/**
 * A citizen's name for a certificate: trimmed; empty means "no name" (null: the subject is
 * shown again). Throws ERR_CERTIFICATE_LABEL (400) when too long or holding control characters.
 */
export const certificateLabel = (input: string): string | null => {
  const label = input.trim();
  if (!label) return null;
  if ([...label].length > CERTIFICATE_LABEL_MAX || /\p{Cc}/u.test(label)) {
    throw new AppError(
      'ERR_CERTIFICATE_LABEL',
      `A certificate name can be at most ${CERTIFICATE_LABEL_MAX} characters on one line.`,
      { status: 400 },
    );
  }
  return label;
};

type Deps = {
  knex: Knex;
  passkeys: PasskeyService;
  /** Adding a certificate by signed challenge: only when certificate login is on. */
  linking?: CertificateLinkService | undefined;
};

type SignInMethods = {
  credentials: Awaited<ReturnType<typeof listCredentials>>;
  certificates: Awaited<ReturnType<typeof listCertificates>>;
};

type Removal = {
  /** Whether this is the account's last way in (then it is refused). */
  last: boolean;
  lastMessage: string;
  remove: (trx: Knex.Transaction) => Promise<unknown>;
  action: string;
  details: Record<string, unknown>;
};

export const createRecoveryService = ({ knex, passkeys, linking }: Deps) => {
  /** Removes one sign-in method under the account's lock, never the last, and audits it. */
  const removeSignInMethod = (
    accountId: string,
    context: { ip?: string | undefined },
    choose: (methods: SignInMethods) => Removal,
  ) =>
    knex.transaction(async (trx) => {
      await lockAccount(trx, accountId);
      const [credentials, certificates] = await Promise.all([
        listCredentials(trx, [accountId]),
        listCertificates(trx, accountId),
      ]);
      const removal = choose({ credentials, certificates });
      if (removal.last)
        throw new AppError('ERR_LAST_SIGN_IN_METHOD', removal.lastMessage, { status: 409 });
      await removal.remove(trx);
      await appendAudit(trx, {
        action: removal.action,
        actor: `account:${accountId}`,
        subject: `account:${accountId}`,
        ip: context.ip,
        details: removal.details,
      });
    });

  return {
    /** The citizen's passkeys and linked certificates, oldest first. */
    async overview(accountId: string) {
      const [credentials, certificates] = await Promise.all([
        listCredentials(knex, [accountId]),
        listCertificates(knex, accountId),
      ]);
      return { passkeys: credentials, certificates };
    },

    /** The citizen's linked certificates, oldest first (My One-ID). */
    certificates: (accountId: string) => listCertificates(knex, accountId),

    /** Adding a certificate to the account; undefined when certificate login is off. */
    linking,

    /** Names (or, with an empty name, unnames) one of the citizen's certificates. Audited `auth.certificate.renamed`. */
    async renameCertificate(
      accountId: string,
      fingerprint: string,
      input: string,
      context: { ip?: string | undefined } = {},
    ) {
      const label = certificateLabel(input);
      await knex.transaction(async (trx) => {
        if (!(await labelCertificate(trx, accountId, fingerprint, label)))
          throw new AppError(
            'ERR_CERTIFICATE_NOT_FOUND',
            'This certificate is not linked to your account.',
            { status: 404 },
          );
        await appendAudit(trx, {
          action: 'auth.certificate.renamed',
          actor: `account:${accountId}`,
          subject: `account:${accountId}`,
          ip: context.ip,
          details: { fingerprint, label },
        });
      });
    },

    registrationOptions: (account: Account) =>
      passkeys.registrationOptions(account, binding(account.id)),

    /** Verifies and stores the new passkey (audited `auth.passkey.registered` by the passkey service). */
    registerPasskey: (account: Account, response: RegistrationResponseJSON, deviceName: string) =>
      knex.transaction((trx) =>
        passkeys.verifyRegistration(trx, account, binding(account.id), response, deviceName),
      ),

    /** Removes a lost passkey; refuses to remove the last way in. Audited `auth.passkey.removed`. */
    removePasskey: (
      accountId: string,
      credentialId: string,
      context: { ip?: string | undefined } = {},
    ) =>
      removeSignInMethod(accountId, context, ({ credentials, certificates }) => {
        const credential = credentials.find((c) => c.id === credentialId);
        if (!credential)
          throw new AppError(
            'ERR_PASSKEY_NOT_FOUND',
            'This passkey is not registered to your account.',
            { status: 404 },
          );
        return {
          last: credentials.length === 1 && certificates.length === 0,
          lastMessage: 'This is your only way to sign in. Register a new passkey first.',
          remove: (trx) => deletePasskey(trx, accountId, credentialId),
          action: 'auth.passkey.removed',
          details: { credentialId, name: credential.name, via: 'recovery' },
        };
      }),

    /** Unlinks a certificate; refuses to remove the last way in. Audited `auth.certificate.unlinked`. */
    removeCertificate: (
      accountId: string,
      fingerprint: string,
      context: { ip?: string | undefined } = {},
    ) =>
      removeSignInMethod(accountId, context, ({ credentials, certificates }) => {
        if (!certificates.some((c) => c.fingerprint === fingerprint))
          throw new AppError(
            'ERR_CERTIFICATE_NOT_FOUND',
            'This certificate is not linked to your account.',
            { status: 404 },
          );
        return {
          last: certificates.length === 1 && credentials.length === 0,
          lastMessage: 'This is your only way to sign in. Register a passkey first.',
          remove: (trx) => deleteCertificate(trx, accountId, fingerprint),
          action: 'auth.certificate.unlinked',
          details: { fingerprint },
        };
      }),
  };
};

export type RecoveryService = ReturnType<typeof createRecoveryService>;
