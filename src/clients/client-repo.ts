import type { Knex } from 'knex';

export type ClientRecord = {
  clientId: string;
  agency: string;
  metadata: Record<string, unknown>;
  secretSealed: string | null;
  status: 'active' | 'disabled';
  createdAt: Date;
  updatedAt: Date;
};

const toRecord = (row: Record<string, any>): ClientRecord => ({
  clientId: row.client_id,
  agency: row.agency,
  metadata: row.metadata,
  secretSealed: row.secret_sealed,
  status: row.status,
  createdAt: new Date(row.created_at),
  updatedAt: new Date(row.updated_at),
});

export const insertClient = async (db: Knex, c: Pick<ClientRecord, 'clientId' | 'agency' | 'metadata' | 'secretSealed'>): Promise<void> => {
  await db('clients').insert({ client_id: c.clientId, agency: c.agency, metadata: JSON.stringify(c.metadata), secret_sealed: c.secretSealed });
};

/** A live (not deleted) client by id, whatever its status. */
export const findClient = async (db: Knex, clientId: string): Promise<ClientRecord | undefined> => {
  const row = await db('clients').where({ client_id: clientId }).whereNull('deleted_at').first();
  return row ? toRecord(row) : undefined;
};

export const clientExists = async (db: Knex, clientId: string): Promise<boolean> =>
  Boolean(await db('clients').where({ client_id: clientId }).first('client_id'));

/** Keyset-paginated list ordered by client id. */
export const listClients = async (db: Knex, options: { after?: string; limit: number }): Promise<ClientRecord[]> => {
  const query = db('clients').whereNull('deleted_at').orderBy('client_id').limit(options.limit);
  if (options.after) query.where('client_id', '>', options.after);
  return (await query).map(toRecord);
};

export type AllowanceRow = { claim: string; purpose: { ko: string; en: string }; required: boolean; retentionDays: number };

export const listAllowances = async (db: Knex, clientId: string): Promise<AllowanceRow[]> =>
  (await db('client_claim_allowances').where({ client_id: clientId }).orderBy('claim')).map((r) => ({
    claim: r.claim,
    purpose: { ko: r.purpose_ko, en: r.purpose_en },
    required: r.required,
    retentionDays: r.retention_days,
  }));

/** Replaces a client's allowances. */
export const replaceAllowances = async (db: Knex, clientId: string, rows: AllowanceRow[]): Promise<void> => {
  await db('client_claim_allowances').where({ client_id: clientId }).delete();
  if (rows.length) {
    await db('client_claim_allowances').insert(rows.map((r) => ({ client_id: clientId, claim: r.claim, purpose_ko: r.purpose.ko, purpose_en: r.purpose.en, required: r.required, retention_days: r.retentionDays })));
  }
};
