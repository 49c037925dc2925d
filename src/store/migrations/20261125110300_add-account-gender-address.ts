import type { Knex } from 'knex';

// More identity attributes One-ID itself holds (nullable: added online, no backfill).
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('accounts', (t) => {
    t.text('gender').nullable();
    t.jsonb('address').nullable(); // OIDC Core 5.1.1 address claim
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('accounts', (t) => {
    t.dropColumn('gender');
    t.dropColumn('address');
  });
}
