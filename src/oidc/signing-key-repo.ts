import type { Knex } from 'knex';

export type SigningKeyRow = { kid: string; alg: string; publicJwk: Record<string, unknown>; privateJwkSealed: string; status: 'active' | 'retired'; createdAt: Date };

export const listSigningKeys = async (db: Knex): Promise<SigningKeyRow[]> =>
  (await db('signing_keys').orderBy('created_at', 'desc').orderBy('kid')).map((r) => ({
    kid: r.kid,
    alg: r.alg,
    publicJwk: r.public_jwk,
    privateJwkSealed: r.private_jwk_sealed,
    status: r.status,
    createdAt: new Date(r.created_at),
  }));

export const insertSigningKey = async (db: Knex, key: Omit<SigningKeyRow, 'createdAt'>): Promise<void> => {
  await db('signing_keys').insert({ kid: key.kid, alg: key.alg, public_jwk: JSON.stringify(key.publicJwk), private_jwk_sealed: key.privateJwkSealed, status: key.status });
};

export const retireActiveKeys = async (db: Knex, alg: string, at: Date): Promise<number> =>
  db('signing_keys').where({ alg, status: 'active' }).update({ status: 'retired', retired_at: at });

/** Drops retired keys older than `before` (no token signed by them can still be valid). */
export const deleteRetiredKeys = async (db: Knex, before: Date): Promise<number> =>
  db('signing_keys').where({ status: 'retired' }).where('retired_at', '<', before).delete();

export const latestKeyChange = async (db: Knex): Promise<string> => {
  const row = await db('signing_keys').select(db.raw("coalesce(max(greatest(created_at, coalesce(retired_at, created_at))), 'epoch')::text as at"), db.raw('count(*)::int as n')).first();
  return `${row.at}|${row.n}`;
};
