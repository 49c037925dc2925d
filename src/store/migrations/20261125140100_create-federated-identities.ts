import type { Knex } from 'knex';

// Upstream identities linked to citizens' accounts, keyed by (issuer, upstream sub): the first
// sign-in through an upstream links it (after proof of the account, a confirmed attribute
// match or self-enrolment); later sign-ins find the account here.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('federated_identities', (t) => {
    t.uuid('id').primary();
    t.text('upstream_id')
      .notNullable()
      .references('id')
      .inTable('upstream_providers')
      .onUpdate('CASCADE');
    t.text('issuer').notNullable();
    t.text('subject').notNullable();
    t.uuid('account_id').notNullable().references('id').inTable('accounts').onDelete('CASCADE');
    t.text('linked_by').notNullable(); // passkey | sign-in | match | enrolment
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('last_used_at', { useTz: true }).nullable();
    t.unique(['issuer', 'subject']);
    t.index(['account_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('federated_identities');
}
