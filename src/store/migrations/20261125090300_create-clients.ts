import type { Knex } from 'knex';

// Agency systems (OIDC relying parties). Metadata is the engine's client metadata; the
// client secret is kept apart, sealed with the key-encryption key.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('clients', (t) => {
    t.text('client_id').primary();
    t.text('agency').notNullable();
    t.jsonb('metadata').notNullable();
    t.text('secret_sealed').nullable();
    t.text('status').notNullable().defaultTo('active'); // active | disabled
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('deleted_at', { useTz: true }).nullable();
    t.index(['agency']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('clients');
}
