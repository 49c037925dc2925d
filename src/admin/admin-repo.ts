// Administrators' roles and agencies. Lists are keyset-paginated (ids / names, never OFFSET).
import type { Knex } from 'knex';
import type { Role, RoleGrant } from './roles.ts';

export type AdminGrantRecord = RoleGrant & {
  id: string;
  accountId: string;
  grantedBy: string;
  grantedAt: Date;
};
export type AgencyRecord = {
  name: string;
  nameEn: string | null;
  contact: string | null;
  createdAt: Date;
  updatedAt: Date;
};

const toGrant = (row: Record<string, any>): AdminGrantRecord => ({
  id: String(row.id),
  accountId: row.account_id,
  role: row.role,
  agency: row.agency,
  grantedBy: row.granted_by,
  grantedAt: new Date(row.granted_at),
});

const toAgency = (row: Record<string, any>): AgencyRecord => ({
  name: row.name,
  nameEn: row.name_en,
  contact: row.contact,
  createdAt: new Date(row.created_at),
  updatedAt: new Date(row.updated_at),
});

export const grantsOf = async (db: Knex, accountId: string): Promise<AdminGrantRecord[]> =>
  (await db('admin_roles').where({ account_id: accountId }).orderBy('id')).map(toGrant);

export const findGrant = async (
  db: Knex,
  g: { accountId: string; role: Role; agency: string | null },
): Promise<AdminGrantRecord | undefined> => {
  const query = db('admin_roles').where({ account_id: g.accountId, role: g.role });
  if (g.agency) query.where({ agency: g.agency });
  else query.whereNull('agency');
  const row = await query.first();
  return row ? toGrant(row) : undefined;
};

export const findGrantById = async (
  db: Knex,
  id: string,
): Promise<AdminGrantRecord | undefined> => {
  const row = await db('admin_roles').where({ id }).first();
  return row ? toGrant(row) : undefined;
};

export const insertGrant = async (
  db: Knex,
  g: { accountId: string; role: Role; agency: string | null; grantedBy: string },
): Promise<AdminGrantRecord> => {
  const [row] = await db('admin_roles')
    .insert({ account_id: g.accountId, role: g.role, agency: g.agency, granted_by: g.grantedBy })
    .returning('*');
  return toGrant(row);
};

export const deleteGrant = async (db: Knex, id: string): Promise<void> => {
  await db('admin_roles').where({ id }).delete();
};

export const countPlatformAdmins = async (db: Knex): Promise<number> =>
  Number(
    (await db('admin_roles').where({ role: 'platform' }).countDistinct({ n: 'account_id' }).first())
      ?.n ?? 0,
  );

export const listGrants = async (
  db: Knex,
  o: { after?: string | undefined; limit: number; accountId?: string | undefined },
): Promise<AdminGrantRecord[]> => {
  const query = db('admin_roles').orderBy('id').limit(o.limit);
  if (o.after) query.where('id', '>', o.after);
  if (o.accountId) query.where({ account_id: o.accountId });
  return (await query).map(toGrant);
};

export const findAgency = async (db: Knex, name: string): Promise<AgencyRecord | undefined> => {
  const row = await db('agencies').where({ name }).first();
  return row ? toAgency(row) : undefined;
};

export const listAgencies = async (
  db: Knex,
  o: { after?: string | undefined; limit: number; names?: string[] | undefined },
): Promise<AgencyRecord[]> => {
  const query = db('agencies').orderBy('name').limit(o.limit);
  if (o.after) query.where('name', '>', o.after);
  if (o.names) query.whereIn('name', o.names);
  return (await query).map(toAgency);
};

export const insertAgency = async (
  db: Knex,
  a: { name: string; nameEn: string | null; contact: string | null },
): Promise<void> => {
  await db('agencies').insert({ name: a.name, name_en: a.nameEn, contact: a.contact });
};

export const updateAgency = async (
  db: Knex,
  name: string,
  a: { nameEn: string | null; contact: string | null },
): Promise<void> => {
  await db('agencies')
    .where({ name })
    .update({ name_en: a.nameEn, contact: a.contact, updated_at: db.fn.now() });
};
