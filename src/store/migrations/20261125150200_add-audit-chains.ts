import type { Knex } from 'knex';

// The audit trail as several hash chains (lanes) instead of one: appends to different lanes no
// longer wait for each other (one lock per lane, held to commit). Existing records are lane 0,
// whose chain simply continues. Each record's prev_hash is the hash of the previous record of
// its own lane; `audit verify` checks every lane in one pass by id.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('audit_events', (t) => {
    t.smallint('chain').notNullable().defaultTo(0);
  });
  await knex.raw('CREATE INDEX audit_events_chain_idx ON audit_events (chain, id)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS audit_events_chain_idx');
  await knex.schema.alterTable('audit_events', (t) => {
    t.dropColumn('chain');
  });
}
