import type { Knex } from 'knex';

export type CatalogueItem = {
  name: string;
  label: { ko: string; en: string };
  description: { ko: string; en: string };
  sensitivity: 'low' | 'medium' | 'high';
  scopes: string[];
  source: 'one-id' | 'agency';
  sourceAgency?: string | undefined;
  sourceEndpoint?: string | undefined;
  sourceJwksUri?: string | undefined;
  sourceClientId?: string | undefined;
  delivery?: 'aggregated' | 'distributed' | undefined;
  /** The source's Security Event Token endpoint (RFC 8935): required for distributed delivery. */
  sourceEventsUri?: string | undefined;
};

const toItem = (r: Record<string, any>): CatalogueItem => ({
  name: r.name,
  label: { ko: r.label_ko, en: r.label_en },
  description: { ko: r.description_ko, en: r.description_en },
  sensitivity: r.sensitivity,
  scopes: r.scopes,
  source: r.source,
  sourceAgency: r.source_agency ?? undefined,
  sourceEndpoint: r.source_endpoint ?? undefined,
  sourceJwksUri: r.source_jwks_uri ?? undefined,
  sourceClientId: r.source_client_id ?? undefined,
  delivery: r.delivery ?? undefined,
  sourceEventsUri: r.source_events_uri ?? undefined,
});

const toRow = (i: CatalogueItem) => ({
  name: i.name,
  label_ko: i.label.ko,
  label_en: i.label.en,
  description_ko: i.description.ko,
  description_en: i.description.en,
  sensitivity: i.sensitivity,
  scopes: JSON.stringify(i.scopes),
  source: i.source,
  source_agency: i.sourceAgency ?? null,
  source_endpoint: i.sourceEndpoint ?? null,
  source_jwks_uri: i.sourceJwksUri ?? null,
  source_client_id: i.sourceClientId ?? null,
  delivery: i.delivery ?? null,
  source_events_uri: i.sourceEventsUri ?? null,
});

export const listCatalogue = async (db: Knex): Promise<CatalogueItem[]> =>
  (await db('claims_catalogue').orderBy('name')).map(toItem);

/** Adds items that are missing; never overwrites what an administrator has edited. */
export const seedCatalogue = async (db: Knex, items: CatalogueItem[]): Promise<number> => {
  const result = await db('claims_catalogue')
    .insert(items.map(toRow))
    .onConflict('name')
    .ignore()
    .returning('name');
  return result.length;
};

export const upsertCatalogueItem = async (db: Knex, item: CatalogueItem): Promise<void> => {
  await db('claims_catalogue')
    .insert({ ...toRow(item), updated_at: db.fn.now() })
    .onConflict('name')
    .merge();
};

export const catalogueVersion = async (db: Knex): Promise<string> => {
  const row = await db('claims_catalogue')
    .select(db.raw("coalesce(max(updated_at), 'epoch')::text as at"), db.raw('count(*)::int as n'))
    .first();
  return `${row.at}|${row.n}`;
};
