import type { Knex } from 'knex';

// When a client was last disabled: refresh tokens issued to it before then are refused, so
// enabling it again does not bring back the tokens it held (src/oidc/provider.ts findAccount).
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('clients', (t) => {
    t.timestamp('tokens_not_before', { useTz: true }).nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('clients', (t) => {
    t.dropColumn('tokens_not_before');
  });
}
