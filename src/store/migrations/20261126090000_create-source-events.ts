import type { Knex } from 'knex';

// A withdrawal reaching the source agency (docs/claim-sources.md, section 3): a claim source's
// events endpoint (RFC 8935 push delivery), the distributed-claim access tokens One-ID issued
// (kept until they expire, so a withdrawal can name them), and the durable queue of Security
// Event Tokens (RFC 8417) telling the source to refuse them, claimed by every instance's worker
// with FOR UPDATE SKIP LOCKED like the back-channel logout queue.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('claims_catalogue', (t) => {
    t.text('source_events_uri').nullable();
  });
  await knex.schema.createTable('distributed_claim_tokens', (t) => {
    t.text('jti').primary();
    t.text('account_id').notNullable();
    t.text('client_id').notNullable(); // the requesting system the token was handed to
    t.text('source_endpoint').notNullable(); // the token's `aud`
    t.text('events_uri').notNullable();
    t.timestamp('expires_at', { useTz: true }).notNullable();
  });
  await knex.raw(
    'CREATE INDEX distributed_claim_tokens_account_idx ON distributed_claim_tokens (account_id, client_id)',
  );
  await knex.raw(
    'CREATE INDEX distributed_claim_tokens_expiry_idx ON distributed_claim_tokens (expires_at)',
  );
  await knex.schema.createTable('source_event_deliveries', (t) => {
    t.uuid('id').primary(); // also the Security Event Token's `jti`
    t.text('issuer').notNullable();
    t.text('events_uri').notNullable();
    t.text('audience').notNullable(); // the source endpoint
    t.text('token_jti').notNullable(); // the distributed token to refuse
    t.text('account_id').notNullable(); // for the audit trail only: never sent
    t.text('client_id').notNullable(); // the requesting system that held the token
    t.text('reason').notNullable(); // consent_withdrawn | consent_expired | sessions_ended | account_disabled
    t.text('status').notNullable().defaultTo('pending'); // pending | delivered | failed
    t.integer('attempts').notNullable().defaultTo(0);
    t.timestamp('next_attempt_at', { useTz: true }).notNullable();
    t.text('last_error').nullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable();
    t.timestamp('delivered_at', { useTz: true }).nullable();
  });
  await knex.raw(
    "CREATE INDEX source_event_deliveries_due_idx ON source_event_deliveries (issuer, next_attempt_at) WHERE status = 'pending'",
  );
  // One event per token: a second withdrawal (or a sweep racing it) queues nothing more.
  await knex.raw(
    'CREATE UNIQUE INDEX source_event_deliveries_token_idx ON source_event_deliveries (token_jti)',
  );
  await knex.raw(
    'CREATE INDEX source_event_deliveries_updated_idx ON source_event_deliveries (updated_at)',
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('source_event_deliveries');
  await knex.schema.dropTable('distributed_claim_tokens');
  await knex.schema.alterTable('claims_catalogue', (t) => {
    t.dropColumn('source_events_uri');
  });
}
