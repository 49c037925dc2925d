// Upstream identities linked to accounts (table federated_identities), and the account lookups
// linking needs. Functions take the handle (knex or a transaction) first.
import type { Knex } from 'knex';
import type { Attributes } from './attribute-mapping.ts';

export type LinkMethod = 'passkey' | 'sign-in' | 'match' | 'enrolment';

export type FederatedIdentity = {
  id: string;
  upstreamId: string;
  issuer: string;
  subject: string;
  accountId: string;
  linkedBy: LinkMethod;
  createdAt: Date;
  lastUsedAt: Date | null;
};

type Row = Record<string, any>;

const toIdentity = (r: Row): FederatedIdentity => ({
  id: r.id,
  upstreamId: r.upstream_id,
  issuer: r.issuer,
  subject: r.subject,
  accountId: r.account_id,
  linkedBy: r.linked_by,
  createdAt: new Date(r.created_at),
  lastUsedAt: r.last_used_at ? new Date(r.last_used_at) : null,
});

export const findIdentity = async (
  db: Knex,
  issuer: string,
  subject: string,
): Promise<FederatedIdentity | undefined> => {
  const row = await db('federated_identities').where({ issuer, subject }).first();
  return row ? toIdentity(row) : undefined;
};

export const insertIdentity = async (
  db: Knex,
  identity: Omit<FederatedIdentity, 'createdAt' | 'lastUsedAt'> & { lastUsedAt: Date },
): Promise<void> => {
  await db('federated_identities').insert({
    id: identity.id,
    upstream_id: identity.upstreamId,
    issuer: identity.issuer,
    subject: identity.subject,
    account_id: identity.accountId,
    linked_by: identity.linkedBy,
    last_used_at: identity.lastUsedAt,
  });
};

export const recordIdentityUse = async (db: Knex, id: string, at: Date): Promise<void> => {
  await db('federated_identities').where({ id }).update({ last_used_at: at });
};

/** The account's linked identities with their upstream's names and status, oldest first. */
export const listIdentities = async (db: Knex, accountId: string) =>
  (
    await db('federated_identities as f')
      .join('upstream_providers as u', 'u.id', 'f.upstream_id')
      .where('f.account_id', accountId)
      .orderBy('f.created_at')
      .select('f.*', 'u.display_name_ko', 'u.display_name_en', 'u.status as upstream_status')
  ).map((r: Row) => ({
    ...toIdentity(r),
    upstreamName: { ko: r.display_name_ko as string, en: r.display_name_en as string },
    upstreamActive: r.upstream_status === 'active',
  }));

export const deleteIdentity = async (
  db: Knex,
  accountId: string,
  id: string,
): Promise<FederatedIdentity | undefined> => {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
  const [row] = await db('federated_identities')
    .where({ id, account_id: accountId })
    .delete()
    .returning('*');
  return row ? toIdentity(row) : undefined;
};

export const hasIdentityAtIssuer = async (
  db: Knex,
  accountId: string,
  issuer: string,
): Promise<boolean> =>
  Boolean(await db('federated_identities').where({ account_id: accountId, issuer }).first('id'));

/**
 * How many ways the account has to sign in: passkeys, linked certificates and identities at
 * active upstreams (read across those tables here, in one place, so removing a link can keep
 * at least one).
 */
export const countSignInMethods = async (db: Knex, accountId: string): Promise<number> => {
  const row = await db
    .select(
      db.raw('(select count(*) from passkey_credentials where account_id = ?)::int as passkeys', [
        accountId,
      ]),
      db.raw(
        '(select count(*) from account_certificates where account_id = ?)::int as certificates',
        [accountId],
      ),
      db.raw(
        "(select count(*) from federated_identities f join upstream_providers u on u.id = f.upstream_id where f.account_id = ? and u.status = 'active')::int as identities",
        [accountId],
      ),
    )
    .first();
  return row.passkeys + row.certificates + row.identities;
};

/**
 * Accounts (active or disabled) whose stored attributes equal all given ones, at most `limit`:
 * the caller decides what a disabled or second match means.
 */
export const findAccountsByAttributes = async (
  db: Knex,
  attributes: Attributes,
  limit = 2,
): Promise<{ id: string; status: string }[]> => {
  const query = db('accounts')
    .whereIn('status', ['active', 'disabled'])
    .orderBy('id')
    .limit(limit)
    .select('id', 'status');
  if (attributes.name !== undefined) query.where({ name: attributes.name });
  if (attributes.birthdate !== undefined) query.where({ birthdate: attributes.birthdate });
  if (attributes.email !== undefined) query.whereRaw('lower(email) = ?', [attributes.email]);
  // Accounts keep phone numbers as entered without separators; +82 and 0 prefixes are the same number.
  if (attributes.phone_number !== undefined)
    query.whereRaw("regexp_replace(phone_number, '^[+]820{0,1}', '0') = ?", [
      attributes.phone_number,
    ]);
  return (await query).map((r: Row) => ({ id: r.id as string, status: r.status as string }));
};
