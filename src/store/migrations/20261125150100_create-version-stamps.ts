import type { Knex } from 'knex';

// Change counters for data that instances cache (first: the client registry). Every change bumps
// its row in the same transaction, so an instance holding a cached copy tagged with an older
// value knows it is stale; instances with Redis read a mirror of the value there instead.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('version_stamps', (t) => {
    t.text('name').primary();
    t.bigInteger('value').notNullable().defaultTo(0);
  });
  await knex('version_stamps').insert({ name: 'clients', value: 0 });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('version_stamps');
}
