// The rows of My One-ID's directory: enabled, live systems with their agency's English name.
import type { Knex } from 'knex';

export type DirectoryRow = {
  clientId: string;
  agency: string;
  agencyEn: string | null;
  metadata: Record<string, unknown>;
};

/** Clients with their agency's English name. */
const withAgencyNames = (db: Knex) =>
  db('clients as c')
    .leftJoin('agencies as a', 'a.name', 'c.agency')
    .select('c.client_id', 'c.agency', 'c.metadata', 'a.name_en');

const toRow = (r: Record<string, any>): DirectoryRow => ({
  clientId: r.client_id,
  agency: r.agency,
  agencyEn: r.name_en ?? null,
  metadata: r.metadata,
});

/** Every active, undeleted client (One-ID's own included: the caller leaves them out). */
export const listDirectoryRows = async (db: Knex): Promise<DirectoryRow[]> =>
  (await withAgencyNames(db).whereNull('c.deleted_at').where('c.status', 'active')).map(toRow);

/** The names of the given systems, whatever their status (a withdrawn consent may outlive one). */
export const findSystemNameRows = async (
  db: Knex,
  clientIds: readonly string[],
): Promise<DirectoryRow[]> =>
  clientIds.length === 0
    ? []
    : (await withAgencyNames(db).whereIn('c.client_id', [...clientIds])).map(toRow);
