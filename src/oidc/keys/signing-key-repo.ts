import type { Knex } from 'knex';

export type SigningKeyRow = {
  kid: string;
  alg: string;
  publicJwk: Record<string, unknown>;
  privateJwkSealed: string;
  status: 'next' | 'active' | 'retired';
  createdAt: Date;
  activateAt?: Date | null;
};

const toRow = (r: Record<string, any>): SigningKeyRow => ({
  kid: r.kid,
  alg: r.alg,
  publicJwk: r.public_jwk,
  privateJwkSealed: r.private_jwk_sealed,
  status: r.status,
  createdAt: new Date(r.created_at),
  activateAt: r.activate_at ? new Date(r.activate_at) : null,
});

export const listSigningKeys = async (db: Knex): Promise<SigningKeyRow[]> =>
  (await db('signing_keys').orderBy('created_at', 'desc').orderBy('kid')).map(toRow);

/** One key by kid; undefined when there is none. */
export const findSigningKey = async (db: Knex, kid: string): Promise<SigningKeyRow | undefined> => {
  const row = await db('signing_keys').where({ kid }).first();
  return row ? toRow(row) : undefined;
};

/** Removes one key whatever its status: it leaves the JWKS at the engines' next reload. */
export const deleteSigningKey = async (db: Knex, kid: string): Promise<number> =>
  db('signing_keys').where({ kid }).delete();

export const insertSigningKey = async (
  db: Knex,
  key: Omit<SigningKeyRow, 'createdAt'>,
): Promise<void> => {
  await db('signing_keys').insert({
    kid: key.kid,
    alg: key.alg,
    public_jwk: JSON.stringify(key.publicJwk),
    private_jwk_sealed: key.privateJwkSealed,
    status: key.status,
    activate_at: key.activateAt ?? null,
  });
};

/** Promotes `next` keys whose time has come: the algorithm's active key retires. Returns the kids promoted. */
export const promoteDueKeys = async (db: Knex, at: Date): Promise<string[]> => {
  const due = await db('signing_keys')
    .where({ status: 'next' })
    .where('activate_at', '<=', at)
    .select('kid', 'alg');
  for (const { kid, alg } of due) {
    await db('signing_keys')
      .where({ alg, status: 'active' })
      .update({ status: 'retired', retired_at: at });
    await db('signing_keys').where({ kid }).update({ status: 'active' });
  }
  return due.map((d: { kid: string }) => d.kid);
};

/** Drops keys still waiting as `next` for an algorithm (a newer rotation replaces them). */
export const dropPendingKeys = async (db: Knex, alg: string): Promise<number> =>
  db('signing_keys').where({ alg, status: 'next' }).delete();

export const retireActiveKeys = async (db: Knex, alg: string, at: Date): Promise<number> =>
  db('signing_keys').where({ alg, status: 'active' }).update({ status: 'retired', retired_at: at });

/** Drops retired keys older than `before` (no token signed by them can still be valid). */
export const deleteRetiredKeys = async (db: Knex, before: Date): Promise<number> =>
  db('signing_keys').where({ status: 'retired' }).where('retired_at', '<', before).delete();

export const latestKeyChange = async (db: Knex): Promise<string> => {
  const row = await db('signing_keys')
    .select(
      db.raw(
        "coalesce(max(greatest(created_at, coalesce(retired_at, created_at))), 'epoch')::text as at",
      ),
      db.raw('count(*)::int as n'),
      db.raw("count(*) filter (where status = 'active')::int as a"),
    )
    .first();
  return `${row.at}|${row.n}|${row.a}`;
};
