import type { Knex } from 'knex';

// What each agency system may ask for, why, whether it needs it, and how long it keeps it.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('client_claim_allowances', (t) => {
    t.text('client_id')
      .notNullable()
      .references('client_id')
      .inTable('clients')
      .onDelete('CASCADE');
    t.text('claim').notNullable().references('name').inTable('claims_catalogue');
    t.text('purpose_ko').notNullable();
    t.text('purpose_en').notNullable();
    t.boolean('required').notNullable().defaultTo(false);
    t.integer('retention_days').notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['client_id', 'claim']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('client_claim_allowances');
}
