// Enrolment: a citizen opens the counter-issued link and registers a first passkey. Consuming
// the link and storing the credential happen in one transaction: both or neither.
import type { Knex } from 'knex';
import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import type { AccountService } from '../accounts/index.ts';
import type { PasskeyService } from './passkey/index.ts';

export const createEnrolmentService = ({
  knex,
  accounts,
  passkeys,
}: {
  knex: Knex;
  accounts: AccountService;
  passkeys: PasskeyService;
}) => ({
  /** The account a link enrols (throws a readable error for unknown, used or expired links). */
  open: async (token: string) => (await accounts.openEnrolment(token)).account,

  async registrationOptions(token: string) {
    const { link, account } = await accounts.openEnrolment(token);
    return passkeys.registrationOptions(account, `enrol:${link.id}`);
  },

  async complete(token: string, response: RegistrationResponseJSON, deviceName: string) {
    const { link, account } = await accounts.openEnrolment(token);
    return knex.transaction(async (trx) => {
      await accounts.consumeEnrolment(trx, link);
      return passkeys.verifyRegistration(trx, account, `enrol:${link.id}`, response, deviceName);
    });
  },
});

export type EnrolmentService = ReturnType<typeof createEnrolmentService>;
