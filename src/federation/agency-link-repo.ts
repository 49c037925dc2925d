// Agency account links (table agency_links): (client, account) -> the agency's own member id.
import type { Knex } from 'knex';

export type AgencyLink = {
  clientId: string;
  accountId: string;
  localId: string;
  createdAt: Date;
  updatedAt: Date;
};

type Row = Record<string, any>;
const toLink = (r: Row): AgencyLink => ({
  clientId: r.client_id,
  accountId: r.account_id,
  localId: r.local_id,
  createdAt: new Date(r.created_at),
  updatedAt: new Date(r.updated_at),
});

export const findLink = async (
  db: Knex,
  clientId: string,
  accountId: string,
): Promise<AgencyLink | undefined> => {
  const row = await db('agency_links')
    .where({ client_id: clientId, account_id: accountId })
    .first();
  return row ? toLink(row) : undefined;
};

export const findLinkByLocalId = async (
  db: Knex,
  clientId: string,
  localId: string,
): Promise<AgencyLink | undefined> => {
  const row = await db('agency_links').where({ client_id: clientId, local_id: localId }).first();
  return row ? toLink(row) : undefined;
};

export const insertLink = async (
  db: Knex,
  link: { clientId: string; accountId: string; localId: string },
): Promise<void> => {
  await db('agency_links').insert({
    client_id: link.clientId,
    account_id: link.accountId,
    local_id: link.localId,
  });
};

export const updateLocalId = async (
  db: Knex,
  clientId: string,
  accountId: string,
  localId: string,
): Promise<void> => {
  await db('agency_links')
    .where({ client_id: clientId, account_id: accountId })
    .update({ local_id: localId, updated_at: db.fn.now() });
};

export const deleteLink = async (db: Knex, clientId: string, accountId: string): Promise<boolean> =>
  (await db('agency_links').where({ client_id: clientId, account_id: accountId }).delete()) === 1;

export const listLinksForAccount = async (db: Knex, accountId: string): Promise<AgencyLink[]> =>
  (await db('agency_links').where({ account_id: accountId }).orderBy('created_at')).map(toLink);
