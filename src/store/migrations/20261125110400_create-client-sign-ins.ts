import type { Knex } from 'knex';

// Which agency systems a citizen has used, first and last time: "connected systems".
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('client_sign_ins', (t) => {
    t.uuid('account_id').notNullable().references('id').inTable('accounts').onDelete('CASCADE');
    t.text('client_id')
      .notNullable()
      .references('client_id')
      .inTable('clients')
      .onDelete('CASCADE');
    t.timestamp('first_at', { useTz: true }).notNullable();
    t.timestamp('last_at', { useTz: true }).notNullable();
    t.integer('count').notNullable().defaultTo(1);
    t.primary(['account_id', 'client_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('client_sign_ins');
}
