import type { Knex } from 'knex';

// The durable back-channel logout queue: one row per logout token to send (one per session per
// client). Every instance's worker claims due rows with FOR UPDATE SKIP LOCKED, sends, and marks
// them delivered or reschedules them with backoff; a row survives restarts and receiver outages.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('backchannel_deliveries', (t) => {
    t.uuid('id').primary();
    t.text('issuer').notNullable(); // the deployment whose instances send it (the token's `iss`)
    t.text('client_id')
      .notNullable()
      .references('client_id')
      .inTable('clients')
      .onDelete('CASCADE');
    t.text('account_id').notNullable(); // the token's `sub` is derived from it (pairwise, per client)
    t.text('sid').notNullable();
    t.text('session_uid').nullable();
    t.text('reason').notNullable(); // logout | remote | admin | expired | consent_withdrawn | client_disabled
    t.text('status').notNullable().defaultTo('pending'); // pending | delivered | failed
    t.integer('attempts').notNullable().defaultTo(0);
    t.timestamp('next_attempt_at', { useTz: true }).notNullable();
    t.text('last_error').nullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable();
    t.timestamp('delivered_at', { useTz: true }).nullable();
  });
  await knex.raw(
    "CREATE INDEX backchannel_deliveries_due_idx ON backchannel_deliveries (issuer, next_attempt_at) WHERE status = 'pending'",
  );
  // One pending token per session and client: enqueueing twice is harmless.
  await knex.raw(
    "CREATE UNIQUE INDEX backchannel_deliveries_pending_idx ON backchannel_deliveries (client_id, sid) WHERE status = 'pending'",
  );
  await knex.raw(
    'CREATE INDEX backchannel_deliveries_updated_idx ON backchannel_deliveries (updated_at)',
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('backchannel_deliveries');
}
