import type { Knex } from 'knex';

// A name the citizen chose for a linked certificate (My One-ID sign-in methods page). Null:
// the page shows the certificate's subject. At most 60 characters (checked by the service).
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('account_certificates', (t) => {
    t.text('label').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('account_certificates', (t) => {
    t.dropColumn('label');
  });
}
