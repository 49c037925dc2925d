import type { Knex } from 'knex';

// A durable record of each citizen's One-ID sessions (the engine keeps sessions in Redis or in
// process memory, where they expire silently): who, which device, which agency systems with
// which `sid`, until when. It lets One-ID send back-channel logout tokens when a session times
// out, list sessions on My One-ID and end them remotely. No full IP address is kept: `network`
// holds a /24 (IPv4) or /48 (IPv6) prefix, and ended rows are deleted after 30 days.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('citizen_sessions', (t) => {
    t.text('uid').primary(); // the engine's Session uid (stable for the session's life; its cookie id rotates)
    t.text('issuer').notNullable(); // the deployment whose instances own the row
    t.uuid('account_id').notNullable().references('id').inTable('accounts').onDelete('CASCADE');
    t.text('user_agent').nullable();
    t.text('network').nullable(); // e.g. 203.0.113.0/24
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('last_seen_at', { useTz: true }).notNullable();
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('ended_at', { useTz: true }).nullable();
    t.text('ended_reason').nullable(); // logout | remote (My One-ID) | admin | expired
    t.timestamp('purged_at', { useTz: true }).nullable(); // when the engine's copy was removed (ended by a process without it, e.g. the CLI)
    t.jsonb('clients').notNullable().defaultTo('{}'); // clientId -> { sid, firstAt, lastAt }
  });
  await knex.raw(
    'CREATE INDEX citizen_sessions_account_idx ON citizen_sessions (account_id) WHERE ended_at IS NULL',
  );
  await knex.raw(
    'CREATE INDEX citizen_sessions_expiry_idx ON citizen_sessions (issuer, expires_at) WHERE ended_at IS NULL',
  );
  await knex.raw(
    'CREATE INDEX citizen_sessions_purge_idx ON citizen_sessions (issuer, ended_at) WHERE ended_at IS NOT NULL AND purged_at IS NULL',
  );
  await knex.raw(
    'CREATE INDEX citizen_sessions_clients_idx ON citizen_sessions USING gin (clients) WHERE ended_at IS NULL',
  );
  await knex.raw(
    'CREATE INDEX citizen_sessions_ended_idx ON citizen_sessions (ended_at) WHERE ended_at IS NOT NULL',
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('citizen_sessions');
}
