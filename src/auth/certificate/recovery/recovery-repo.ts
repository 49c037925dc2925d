// The one write recovery needs on the passkey table: removing a lost passkey. (The passkey
// module has no removal yet; if it gains one, use it and delete this file.)
import type { Knex } from 'knex';

/** Removes one of the account's passkeys; false when no such passkey belongs to the account. */
export const deletePasskey = async (
  db: Knex,
  accountId: string,
  credentialId: string,
): Promise<boolean> =>
  (await db('passkey_credentials').where({ id: credentialId, account_id: accountId }).delete()) ===
  1;

/** Locks the account's row until the transaction ends, so two removals cannot both pass the last-way-in check. */
export const lockAccount = async (trx: Knex.Transaction, accountId: string): Promise<void> => {
  await trx('accounts').where({ id: accountId }).forUpdate().first('id');
};

/** Unlinks one of the account's certificates; false when no such certificate belongs to it. */
export const deleteCertificate = async (
  db: Knex,
  accountId: string,
  fingerprint: string,
): Promise<boolean> =>
  (await db('account_certificates').where({ fingerprint, account_id: accountId }).delete()) === 1;
