import type { Knex } from 'knex';

// Keys are published before they sign: a rotated key waits as `next` until `activate_at`, so
// relying parties that cache the JWKS see it before any token carries its kid.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('signing_keys', (t) => {
    t.timestamp('activate_at', { useTz: true }).nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('signing_keys', (t) => {
    t.dropColumn('activate_at');
  });
}
