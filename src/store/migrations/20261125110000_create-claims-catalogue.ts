import type { Knex } from 'knex';

// The claims catalogue: the one source of every data item's labels (consent screen, My One-ID,
// admin console). Items are held by One-ID itself or by another agency (served from its
// claims endpoint and returned as aggregated or distributed claims, never copied).
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('claims_catalogue', (t) => {
    t.text('name').primary();
    t.text('label_ko').notNullable();
    t.text('label_en').notNullable();
    t.text('description_ko').notNullable();
    t.text('description_en').notNullable();
    t.text('sensitivity').notNullable(); // low | medium | high
    t.jsonb('scopes').notNullable(); // scopes that carry the claim
    t.text('source').notNullable().defaultTo('one-id'); // one-id | agency
    t.text('source_agency').nullable();
    t.text('source_endpoint').nullable();
    t.text('source_jwks_uri').nullable();
    t.text('source_client_id').nullable(); // the source agency's own client (its pairwise sub identifies the citizen)
    t.text('delivery').nullable(); // aggregated | distributed
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('claims_catalogue');
}
