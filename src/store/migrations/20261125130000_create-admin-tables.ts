import type { Knex } from 'knex';

// Administration (docs/admin.md): agencies, administrators' roles, the tokens of dynamic client
// registration (RFC 7591/7592), and on clients the previous secret that stays valid for a grace
// period after a rotation. Clients gain the `draft` status (unknown to the engine until a
// platform administrator enables them).
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('clients', (t) => {
    t.text('previous_secret_sealed').nullable();
    t.timestamp('previous_secret_expires_at', { useTz: true }).nullable();
    t.text('registered_via').nullable(); // cli | console | api | manifest | dcr | system
  });
  // Agency administrators list their own clients: keyset pagination by (agency, client_id).
  await knex.raw(
    'CREATE INDEX clients_agency_live_idx ON clients (agency, client_id) WHERE deleted_at IS NULL',
  );

  await knex.schema.createTable('agencies', (t) => {
    t.text('name').primary(); // as clients.agency
    t.text('name_en').nullable();
    t.text('contact').nullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(
    "INSERT INTO agencies (name) SELECT DISTINCT agency FROM clients WHERE agency <> 'One-ID' ON CONFLICT DO NOTHING",
  );

  await knex.schema.createTable('admin_roles', (t) => {
    t.bigIncrements('id').primary();
    t.uuid('account_id').notNullable().references('id').inTable('accounts').onDelete('CASCADE');
    t.text('role').notNullable(); // platform | agency | auditor
    t.text('agency').nullable().references('name').inTable('agencies').onUpdate('CASCADE');
    t.text('granted_by').notNullable();
    t.timestamp('granted_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(
    "CREATE UNIQUE INDEX admin_roles_grant_idx ON admin_roles (account_id, role, coalesce(agency, ''))",
  );

  // Initial and registration access tokens, stored as SHA-256 hashes only.
  await knex.schema.createTable('dcr_tokens', (t) => {
    t.bigIncrements('id').primary();
    t.text('kind').notNullable(); // initial | registration
    t.text('token_hash').notNullable().unique();
    t.text('agency').notNullable();
    t.text('client_id').nullable();
    t.jsonb('payload').notNullable().defaultTo('{}');
    t.text('created_by').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('expires_at', { useTz: true }).nullable();
    t.timestamp('revoked_at', { useTz: true }).nullable();
    t.index(['client_id']);
  });
  await knex.raw('CREATE INDEX dcr_tokens_agency_idx ON dcr_tokens (kind, agency, id)');

  // Audit search is keyset-paginated by id (newest first) under each filter; these let every
  // filter walk an index in id order instead of sorting millions of rows.
  await knex.raw('CREATE INDEX audit_events_action_id_idx ON audit_events (action, id)');
  await knex.raw('CREATE INDEX audit_events_actor_id_idx ON audit_events (actor, id)');
  await knex.raw('CREATE INDEX audit_events_subject_id_idx ON audit_events (subject, id)');
  await knex.raw(
    "CREATE INDEX audit_events_agency_id_idx ON audit_events ((details->>'agency'), id)",
  );
  await knex.raw('CREATE INDEX audit_events_occurred_idx ON audit_events (occurred_at)');
}

export async function down(knex: Knex): Promise<void> {
  for (const index of [
    'audit_events_action_id_idx',
    'audit_events_actor_id_idx',
    'audit_events_subject_id_idx',
    'audit_events_agency_id_idx',
    'audit_events_occurred_idx',
    'clients_agency_live_idx',
  ]) {
    await knex.raw(`DROP INDEX IF EXISTS ${index}`);
  }
  await knex.schema.dropTable('dcr_tokens');
  await knex.schema.dropTable('admin_roles');
  await knex.schema.dropTable('agencies');
  await knex.schema.alterTable('clients', (t) => {
    t.dropColumn('previous_secret_sealed');
    t.dropColumn('previous_secret_expires_at');
    t.dropColumn('registered_via');
  });
}
