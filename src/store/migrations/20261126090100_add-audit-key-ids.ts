import type { Knex } from 'knex';

// The audit chain is keyed (HMAC-SHA-256 under AUDIT_KEYS, a key the database never holds):
// each record names the key that made its hash, so keys can be rotated. Records written before
// carry no key id and fail `audit verify` (no deployment existed before this change).
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('audit_events', (t) => {
    t.text('key_id').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('audit_events', (t) => {
    t.dropColumn('key_id');
  });
}
