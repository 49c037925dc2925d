import type { Knex } from 'knex';

// A citizen's agreement that one client receives a set of claims: at most one active record per
// citizen and client (withdrawn records stay, for the history); every change is audited.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('consents', (t) => {
    t.uuid('id').primary();
    t.uuid('account_id').notNullable().references('id').inTable('accounts').onDelete('CASCADE');
    t.text('client_id')
      .notNullable()
      .references('client_id')
      .inTable('clients')
      .onDelete('CASCADE');
    t.jsonb('granted_claims').notNullable(); // claims the citizen agreed to share
    t.jsonb('declined_claims').notNullable(); // optional claims the citizen left unchecked
    t.jsonb('scopes').notNullable(); // OIDC scopes decided (e.g. offline_access)
    t.jsonb('purposes').notNullable(); // snapshot: claim -> { ko, en, required, retentionDays }
    t.jsonb('grant_ids').notNullable().defaultTo('[]'); // engine grants issued under this consent
    t.timestamp('granted_at', { useTz: true }).notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable();
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('withdrawn_at', { useTz: true }).nullable();
    t.index(['account_id']);
  });
  await knex.raw(
    'CREATE UNIQUE INDEX consents_active_idx ON consents (account_id, client_id) WHERE withdrawn_at IS NULL',
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('consents');
}
