// WebAuthn ceremonies (registration and authentication) with @simplewebauthn/server.
// Challenges live in the shared KV store, bound to one interaction or enrolment, single-use
// and short-lived; user verification is always required.
import { createHmac } from 'node:crypto';
import type { Knex } from 'knex';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type AuthenticatorTransportFuture,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { findAccountsByIdentifier, type Account } from '../../accounts/index.ts';
import { appendAudit, appendAuditWith } from '../../audit/index.ts';
import { AppError, type Clock } from '../../shared/index.ts';
import type { KvStore } from '../../store/index.ts';
import {
  credentialUseWrite,
  findCredential,
  findCredentialForSignIn,
  insertCredential,
  listCredentials,
  renameCredential,
} from './credential-repo.ts';
import { passkeyFailed } from './passkey-errors.ts';

/** How long a WebAuthn challenge stays answerable (also the ceremony timeout given to the browser). */
const CHALLENGE_TTL_SECONDS = 300;

type Deps = {
  knex: Knex;
  kv: KvStore;
  clock: Clock;
  rpId: string;
  rpName: string;
  origin: string;
  /** Keys the stand-in credential ids returned for unknown identifiers (no account enumeration). */
  decoySecret: string;
  /** Defaults to CHALLENGE_TTL_SECONDS; tests shorten it to see an expired challenge refused. */
  challengeTtlSeconds?: number | undefined;
};

type StoredChallenge = { challenge: string; accountIds?: string[] };

/** Who is signing in, for the audit records: the client address and the system signed in to. */
export type SignInContext = { ip?: string | undefined; clientId?: string | undefined };

/**
 * What the caller checks before a ceremony step may proceed (its rate limits, the interaction),
 * as a promise: the step issues its own reads at once, so they share the caller's Redis round
 * trip, and decides nothing until this settles; a rejection is the step's answer.
 */
export type Checked<T> = T | Promise<T>;

/** The challenge a response answers (from its clientDataJSON; verification checks it again). */
const challengeOf = (response: { response?: { clientDataJSON?: unknown } } | undefined): string => {
  try {
    const data = JSON.parse(
      Buffer.from(String(response?.response?.clientDataJSON ?? ''), 'base64url').toString('utf8'),
    ) as { challenge?: unknown };
    return typeof data.challenge === 'string' && /^[\w-]{16,128}$/.test(data.challenge)
      ? data.challenge
      : 'none';
  } catch {
    return 'none';
  }
};

/** RFC 8176: a device-bound passkey is a hardware key (hwk), a synced one a software key (swk). */
export const passkeyAmr = (deviceType: string): string[] => [
  deviceType === 'singleDevice' ? 'hwk' : 'swk',
  'user',
];

export const createPasskeyService = ({
  knex,
  kv,
  clock,
  rpId,
  rpName,
  origin,
  decoySecret,
  challengeTtlSeconds = CHALLENGE_TTL_SECONDS,
}: Deps) => {
  const storeChallenge = (key: string, value: StoredChallenge) =>
    kv.set(key, JSON.stringify(value), challengeTtlSeconds);
  const takeChallenge = async (key: string): Promise<StoredChallenge> => {
    const raw = await kv.take(key);
    if (!raw)
      throw passkeyFailed('The passkey request expired or was already used. Please try again.');
    return JSON.parse(raw) as StoredChallenge;
  };

  return {
    /** A citizen's passkeys, oldest first. */
    listForAccount: (accountId: string) => listCredentials(knex, [accountId]),

    /** Renames one of the citizen's passkeys (a label only they see). */
    async rename(accountId: string, credentialId: string, name: string): Promise<void> {
      const label = name.trim().slice(0, 60);
      if (!label)
        throw new AppError('ERR_PASSKEY_NAME', 'Give the passkey a name.', { status: 400 });
      await knex.transaction(async (trx) => {
        if (!(await renameCredential(trx, accountId, credentialId, label)))
          throw new AppError(
            'ERR_PASSKEY_NOT_FOUND',
            'This passkey is not registered to your account.',
            { status: 404 },
          );
        await appendAudit(trx, {
          action: 'auth.passkey.renamed',
          actor: `account:${accountId}`,
          subject: `account:${accountId}`,
          details: { credentialId },
        });
      });
    },

    /** Options for creating a passkey; `binding` names the ceremony (e.g. `enrol:<linkId>`). */
    async registrationOptions(
      account: Account,
      binding: string,
    ): Promise<PublicKeyCredentialCreationOptionsJSON> {
      const existing = await listCredentials(knex, [account.id]);
      const options = await generateRegistrationOptions({
        rpName,
        rpID: rpId,
        userName: account.email ?? account.name,
        userDisplayName: account.name,
        userID: Buffer.from(account.webauthnUserId, 'base64url'),
        attestationType: 'none',
        excludeCredentials: existing.map((c) => ({ id: c.id, transports: c.transports })),
        authenticatorSelection: { residentKey: 'preferred', userVerification: 'required' },
        timeout: challengeTtlSeconds * 1000,
      });
      await storeChallenge(`webauthn:reg:${binding}`, { challenge: options.challenge });
      return options;
    },

    /**
     * Verifies a registration and stores the credential inside `trx` (the caller's transaction,
     * so e.g. consuming an enrolment link and adding the passkey commit together).
     */
    async verifyRegistration(
      trx: Knex.Transaction,
      account: Account,
      binding: string,
      response: RegistrationResponseJSON,
      name: string,
    ) {
      const { challenge } = await takeChallenge(`webauthn:reg:${binding}`);
      let result;
      try {
        result = await verifyRegistrationResponse({
          response,
          expectedChallenge: challenge,
          expectedOrigin: origin,
          expectedRPID: rpId,
          requireUserVerification: true,
        });
      } catch (error) {
        throw passkeyFailed('The passkey could not be registered. Please try again.', error);
      }
      if (!result.verified)
        throw passkeyFailed('The passkey could not be registered. Please try again.');
      const info = result.registrationInfo;
      if (await findCredential(trx, info.credential.id))
        throw passkeyFailed('This passkey is already registered.');
      await insertCredential(trx, {
        id: info.credential.id,
        accountId: account.id,
        publicKey: info.credential.publicKey,
        counter: info.credential.counter,
        transports: info.credential.transports ?? response.response.transports ?? [],
        deviceType: info.credentialDeviceType,
        backedUp: info.credentialBackedUp,
        aaguid: info.aaguid,
        name: name.slice(0, 100),
      });
      await appendAudit(trx, {
        action: 'auth.passkey.registered',
        actor: `account:${account.id}`,
        subject: `account:${account.id}`,
        details: { credentialId: info.credential.id, deviceType: info.credentialDeviceType },
      });
      return { credentialId: info.credential.id };
    },

    /**
     * Options for signing in. Without an identifier: a discoverable-credential request (empty
     * allowCredentials, also used for autofill). With one (email or phone): that citizen's
     * credentials, or a stable decoy when nobody matches, so the answer reveals nothing.
     */
    async authenticationOptions(
      binding: string,
      identifier?: string,
      checked?: Checked<unknown>,
    ): Promise<PublicKeyCredentialRequestOptionsJSON> {
      // Nothing is looked up or stored for a request the caller refuses.
      await checked;
      let allowCredentials:
        { id: string; transports?: AuthenticatorTransportFuture[] }[] | undefined;
      let accountIds: string[] | undefined;
      if (identifier) {
        const accounts = await findAccountsByIdentifier(knex, identifier.slice(0, 320));
        accountIds = accounts.map((a) => a.id);
        const credentials = await listCredentials(knex, accountIds);
        allowCredentials = credentials.length
          ? credentials.map((c) => ({ id: c.id, transports: c.transports }))
          : [
              {
                id: createHmac('sha256', decoySecret)
                  .update(identifier.trim().toLowerCase())
                  .digest('base64url'),
              },
            ];
      }
      const options = await generateAuthenticationOptions({
        rpID: rpId,
        userVerification: 'required',
        allowCredentials,
        timeout: challengeTtlSeconds * 1000,
      });
      // One key per challenge: an autofill request and a button press on the same page each
      // keep their own challenge; the response names which one it answers.
      await storeChallenge(`webauthn:auth:${binding}:${options.challenge}`, {
        challenge: options.challenge,
        ...(accountIds && { accountIds }),
      });
      return options;
    },

    /**
     * Verifies an assertion; returns the signed-in account, the RFC 8176 methods used and the
     * citizen's active consent for the client signed in to (read with the credential; a snapshot
     * that whoever records a grant made from it must check is still active). The challenge is
     * taken at once, with the caller's checks (`checked`, which settles to who is signing in; see
     * Checked): it is single use, so an attempt they refuse has spent it.
     */
    async verifyAuthentication(
      binding: string,
      response: AuthenticationResponseJSON,
      /** `clientId`: the system being signed in to, named in the citizen's activity list. */
      checked: Checked<SignInContext> = {},
    ) {
      const [passed, taken] = await Promise.allSettled([
        checked,
        takeChallenge(`webauthn:auth:${binding}:${challengeOf(response)}`),
      ]);
      if (passed.status === 'rejected') throw passed.reason;
      if (taken.status === 'rejected') throw taken.reason;
      const context = passed.value;
      const stored = taken.value;
      // The citizen's consent for the client comes with it (one statement), for the
      // authorization that follows; it is returned only once the assertion is verified.
      const found =
        typeof response?.id === 'string'
          ? await findCredentialForSignIn(knex, response.id, context.clientId)
          : undefined;
      const credential = found?.credential;
      const fail = async (
        reason: string,
        error?: unknown,
        details: Record<string, unknown> = {},
      ) => {
        await knex.transaction((trx) =>
          appendAudit(trx, {
            action: 'auth.passkey.failed',
            actor: 'anonymous',
            subject: credential ? `account:${credential.accountId}` : undefined,
            ip: context.ip,
            details: { reason, ...details },
          }),
        );
        return passkeyFailed('Sign-in with this passkey failed. Please try again.', error);
      };
      if (!credential) throw await fail('unknown_credential');
      if (stored.accountIds && !stored.accountIds.includes(credential.accountId))
        throw await fail('credential_not_allowed');
      let result;
      try {
        result = await verifyAuthenticationResponse({
          response,
          expectedChallenge: stored.challenge,
          expectedOrigin: origin,
          expectedRPID: rpId,
          requireUserVerification: true,
          // Counter 0: SimpleWebAuthn would check the counter before the signature; it is checked
          // below, once the signature shows the response came from this credential's key.
          credential: {
            id: credential.id,
            publicKey: credential.publicKey as Uint8Array<ArrayBuffer>,
            counter: 0,
            transports: credential.transports,
          },
        });
      } catch (error) {
        throw await fail('verification_error', error);
      }
      if (!result.verified) throw await fail('not_verified');
      const { newCounter } = result.authenticationInfo;
      // WebAuthn L2 7.2 step 21: a counter that did not advance (when the authenticator keeps
      // one) means the key was copied. Refused, and audited as such for the administrators.
      if ((newCounter > 0 || credential.counter > 0) && newCounter <= credential.counter) {
        throw await fail('counter_not_advanced', undefined, {
          credentialId: credential.id,
          counter: newCounter,
          storedCounter: credential.counter,
        });
      }
      const amr = passkeyAmr(credential.deviceType);
      // The new counter and its audit record in one statement (one round trip, both or neither),
      // only if the counter is still the one checked above: a concurrent reuse is refused.
      const used = await appendAuditWith(
        knex,
        {
          action: 'auth.passkey.verified',
          actor: `account:${credential.accountId}`,
          subject: `account:${credential.accountId}`,
          ip: context.ip,
          details: {
            credentialId: credential.id,
            amr,
            ...(context.clientId && { clientId: context.clientId }),
          },
        },
        credentialUseWrite(credential.id, credential.counter, newCounter, clock.now()),
      );
      if (!used) throw passkeyFailed('Sign-in with this passkey failed. Please try again.');
      return {
        accountId: credential.accountId,
        credentialId: credential.id,
        amr,
        /** The active consent for `context.clientId`, as read with the credential (if any). */
        consent: found?.consent,
      };
    },
  };
};

export type PasskeyService = ReturnType<typeof createPasskeyService>;
