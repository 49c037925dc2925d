import type { Knex } from 'knex';

export type ClientRecord = {
  clientId: string;
  agency: string;
  metadata: Record<string, unknown>;
  secretSealed: string | null;
  /** `draft`: requested, awaiting a platform administrator; unknown to the engine like `disabled`. */
  status: ClientStatus;
  /** After a rotation, the previous secret stays valid until previousSecretExpiresAt. */
  previousSecretSealed: string | null;
  previousSecretExpiresAt: Date | null;
  registeredVia: string | null;
  /** Set when the client is disabled: refresh tokens issued before then stay refused. */
  tokensNotBefore: Date | null;
  createdAt: Date;
  updatedAt: Date;
};

export type ClientStatus = 'draft' | 'active' | 'disabled';

const toRecord = (row: Record<string, any>): ClientRecord => ({
  clientId: row.client_id,
  agency: row.agency,
  metadata: row.metadata,
  secretSealed: row.secret_sealed,
  status: row.status,
  previousSecretSealed: row.previous_secret_sealed ?? null,
  previousSecretExpiresAt: row.previous_secret_expires_at
    ? new Date(row.previous_secret_expires_at)
    : null,
  registeredVia: row.registered_via ?? null,
  tokensNotBefore: row.tokens_not_before ? new Date(row.tokens_not_before) : null,
  createdAt: new Date(row.created_at),
  updatedAt: new Date(row.updated_at),
});

export const insertClient = async (
  db: Knex,
  c: Pick<ClientRecord, 'clientId' | 'agency' | 'metadata' | 'secretSealed'> & {
    status?: ClientStatus;
    registeredVia?: string;
  },
): Promise<void> => {
  await db('clients').insert({
    client_id: c.clientId,
    agency: c.agency,
    metadata: JSON.stringify(c.metadata),
    secret_sealed: c.secretSealed,
    status: c.status ?? 'active',
    registered_via: c.registeredVia ?? null,
  });
};

/** Changes a live client's row (only the given fields); updated_at is set. */
export const updateClientRow = async (
  db: Knex,
  clientId: string,
  c: Partial<
    Pick<
      ClientRecord,
      | 'agency'
      | 'metadata'
      | 'secretSealed'
      | 'status'
      | 'previousSecretSealed'
      | 'previousSecretExpiresAt'
      | 'tokensNotBefore'
    >
  > & { deletedAt?: Date },
): Promise<void> => {
  await db('clients')
    .where({ client_id: clientId })
    .whereNull('deleted_at')
    .update({
      ...(c.agency !== undefined && { agency: c.agency }),
      ...(c.metadata !== undefined && { metadata: JSON.stringify(c.metadata) }),
      ...(c.secretSealed !== undefined && { secret_sealed: c.secretSealed }),
      ...(c.status !== undefined && { status: c.status }),
      ...(c.previousSecretSealed !== undefined && {
        previous_secret_sealed: c.previousSecretSealed,
      }),
      ...(c.previousSecretExpiresAt !== undefined && {
        previous_secret_expires_at: c.previousSecretExpiresAt,
      }),
      ...(c.tokensNotBefore !== undefined && { tokens_not_before: c.tokensNotBefore }),
      ...(c.deletedAt !== undefined && { deleted_at: c.deletedAt }),
      updated_at: db.fn.now(),
    });
};

/** Clients belong to agencies: the agency row is created with the first client that names it. */
export const ensureAgency = async (db: Knex, name: string): Promise<void> => {
  await db('agencies').insert({ name }).onConflict('name').ignore();
};

/** A live (not deleted) client by id, whatever its status. */
export const findClient = async (db: Knex, clientId: string): Promise<ClientRecord | undefined> => {
  const row = await db('clients').where({ client_id: clientId }).whereNull('deleted_at').first();
  return row ? toRecord(row) : undefined;
};

export const clientExists = async (db: Knex, clientId: string): Promise<boolean> =>
  Boolean(await db('clients').where({ client_id: clientId }).first('client_id'));

/** Keyset-paginated list ordered by client id (optionally of some agencies, or of one status). */
export const listClients = async (
  db: Knex,
  options: {
    after?: string | undefined;
    limit: number;
    agencies?: string[] | undefined;
    status?: ClientStatus | undefined;
  },
): Promise<ClientRecord[]> => {
  const query = db('clients').whereNull('deleted_at').orderBy('client_id').limit(options.limit);
  if (options.after) query.where('client_id', '>', options.after);
  if (options.agencies) query.whereIn('agency', options.agencies);
  if (options.status) query.where('status', options.status);
  return (await query).map(toRecord);
};

export type AllowanceRow = {
  claim: string;
  purpose: { ko: string; en: string };
  required: boolean;
  retentionDays: number;
};

export const listAllowances = async (db: Knex, clientId: string): Promise<AllowanceRow[]> =>
  (await db('client_claim_allowances').where({ client_id: clientId }).orderBy('claim')).map(
    (r) => ({
      claim: r.claim,
      purpose: { ko: r.purpose_ko, en: r.purpose_en },
      required: r.required,
      retentionDays: r.retention_days,
    }),
  );

/** Replaces a client's allowances. */
export const replaceAllowances = async (
  db: Knex,
  clientId: string,
  rows: AllowanceRow[],
): Promise<void> => {
  await db('client_claim_allowances').where({ client_id: clientId }).delete();
  if (rows.length) {
    await db('client_claim_allowances').insert(
      rows.map((r) => ({
        client_id: clientId,
        claim: r.claim,
        purpose_ko: r.purpose.ko,
        purpose_en: r.purpose.en,
        required: r.required,
        retention_days: r.retentionDays,
      })),
    );
  }
};
