import type { Knex } from 'knex';

// Upstream identity providers (federation, docs/federation.md): other OpenID Connect providers
// whose sign-ins One-ID accepts as their relying party. Registered by platform administrators;
// the client secret One-ID uses at the upstream is sealed (SecretBox, KEY_ENCRYPTION_KEYS).
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('upstream_providers', (t) => {
    t.text('id').primary(); // administrator-chosen slug, part of /interaction/:uid/upstream/:id
    t.text('issuer').notNullable().unique();
    t.text('client_id').notNullable();
    t.text('client_secret_sealed').nullable(); // null with token_endpoint_auth_method none
    t.text('token_endpoint_auth_method').notNullable();
    t.jsonb('scopes').notNullable(); // e.g. ["openid","profile","phone"]
    t.jsonb('claim_mapping').notNullable(); // One-ID attribute -> upstream claim name
    t.text('acr').notNullable(); // the One-ID level a sign-in there counts for (never more)
    t.jsonb('match_rule').notNullable(); // attributes that must all match exactly one account ([] = off)
    t.boolean('enrolment').notNullable().defaultTo(false); // may create accounts
    t.text('display_name_ko').notNullable();
    t.text('display_name_en').notNullable();
    t.text('logo_uri').nullable();
    t.text('status').notNullable().defaultTo('active'); // active | disabled
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('upstream_providers');
}
