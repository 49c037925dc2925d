import type { Knex } from 'knex';
import type { AuditedWrite } from '../../audit/index.ts';
import {
  activeConsentSnapshotSql,
  toConsentSnapshot,
  type ConsentSnapshot,
} from '../../consent/index.ts';
import { prepared } from '../../store/index.ts';
import type { AuthenticatorTransportFuture, CredentialDeviceType } from '@simplewebauthn/server';

export type PasskeyCredential = {
  id: string;
  accountId: string;
  publicKey: Uint8Array;
  counter: number;
  transports: AuthenticatorTransportFuture[];
  deviceType: CredentialDeviceType;
  backedUp: boolean;
  aaguid: string | null;
  name: string;
  createdAt: Date;
  lastUsedAt: Date | null;
};

const toCredential = (row: Record<string, any>): PasskeyCredential => ({
  id: row.id,
  accountId: row.account_id,
  publicKey: new Uint8Array(row.public_key),
  counter: Number(row.counter),
  transports: row.transports,
  deviceType: row.device_type,
  backedUp: row.backed_up,
  aaguid: row.aaguid,
  name: row.name,
  createdAt: new Date(row.created_at),
  lastUsedAt: row.last_used_at ? new Date(row.last_used_at) : null,
});

export const insertCredential = async (
  db: Knex,
  c: Omit<PasskeyCredential, 'createdAt' | 'lastUsedAt'>,
): Promise<void> => {
  await db('passkey_credentials').insert({
    id: c.id,
    account_id: c.accountId,
    public_key: Buffer.from(c.publicKey),
    counter: c.counter,
    transports: JSON.stringify(c.transports),
    device_type: c.deviceType,
    backed_up: c.backedUp,
    aaguid: c.aaguid,
    name: c.name,
  });
};

export const findCredential = async (
  db: Knex,
  id: string,
): Promise<PasskeyCredential | undefined> => {
  // A prepared statement: read on every passkey sign-in (src/store/prepared.ts).
  const [row] = await prepared(
    db,
    'passkey_find',
    'SELECT * FROM passkey_credentials WHERE id = $1',
    [id],
  );
  return row ? toCredential(row) : undefined;
};

const FIND_FOR_SIGN_IN = `SELECT c.*, ${activeConsentSnapshotSql('c.account_id', '$2::text')}
  AS consent FROM passkey_credentials c WHERE c.id = $1`;

/**
 * The credential, with its citizen's active consent for `clientId` (the system being signed in
 * to): one statement, so the authorization that follows the sign-in need not read the consent
 * again (issue 16). The consent is read before the assertion is verified: the caller must use
 * it only once it is.
 */
export const findCredentialForSignIn = async (
  db: Knex,
  id: string,
  clientId: string | undefined,
): Promise<{ credential: PasskeyCredential; consent: ConsentSnapshot | undefined } | undefined> => {
  // A prepared statement: read on every passkey sign-in (src/store/prepared.ts).
  const [row] = await prepared(db, 'passkey_find_consent', FIND_FOR_SIGN_IN, [
    id,
    clientId ?? null,
  ]);
  return row && { credential: toCredential(row), consent: toConsentSnapshot(row.consent) };
};

export const listCredentials = async (
  db: Knex,
  accountIds: string[],
): Promise<PasskeyCredential[]> =>
  accountIds.length
    ? (await db('passkey_credentials').whereIn('account_id', accountIds).orderBy('created_at')).map(
        toCredential,
      )
    : [];

/**
 * Stores the new signature counter, only if it still holds the value the assertion was checked
 * against: two concurrent uses of one credential cannot both pass. A write for appendAuditWith,
 * so the counter and the sign-in's audit record go in one statement.
 */
export const credentialUseWrite = (
  id: string,
  previousCounter: number,
  newCounter: number,
  at: Date,
): AuditedWrite => ({
  name: 'passkey_use',
  sql: `UPDATE passkey_credentials SET counter = ?, last_used_at = ?
    WHERE id = ? AND counter = ? AND EXISTS (SELECT 1 FROM audit_head) RETURNING id`,
  bindings: [newCounter, at, id, previousCounter],
});

export const renameCredential = async (
  db: Knex,
  accountId: string,
  id: string,
  name: string,
): Promise<boolean> =>
  (await db('passkey_credentials').where({ id, account_id: accountId }).update({ name })) === 1;
