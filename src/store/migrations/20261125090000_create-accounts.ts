import type { Knex } from 'knex';

// Citizens (and, later, administrators): identity attributes verified at enrolment. No passwords.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('accounts', (t) => {
    t.uuid('id').primary();
    t.text('name').notNullable();
    t.date('birthdate').nullable();
    t.text('email').nullable();
    t.text('phone_number').nullable();
    t.text('status').notNullable().defaultTo('active');
    // WebAuthn user handle: random, never derived from personal data (WebAuthn L2 14.6.1).
    t.text('webauthn_user_id').notNullable().unique();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(
    'CREATE INDEX accounts_email_idx ON accounts (lower(email)) WHERE email IS NOT NULL',
  );
  await knex.raw(
    'CREATE INDEX accounts_phone_idx ON accounts (phone_number) WHERE phone_number IS NOT NULL',
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('accounts');
}
