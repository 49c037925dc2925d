import type { Knex } from 'knex';

// Every pairwise `sub` One-ID has issued, by sector: a pairwise sub cannot be reversed (it is an
// HMAC), so an agency naming a citizen by its sub (agency account links) is resolved here.
// Written when the engine computes a sub for a client.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('pairwise_subjects', (t) => {
    t.text('sector').notNullable();
    t.text('sub').notNullable();
    t.uuid('account_id').notNullable().references('id').inTable('accounts').onDelete('CASCADE');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['sector', 'sub']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('pairwise_subjects');
}
