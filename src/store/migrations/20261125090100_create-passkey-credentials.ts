import type { Knex } from 'knex';

// WebAuthn credentials: several per citizen; the signature counter is persisted after each use.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('passkey_credentials', (t) => {
    t.text('id').primary(); // credential ID, base64url
    t.uuid('account_id').notNullable().references('id').inTable('accounts').onDelete('CASCADE');
    t.binary('public_key').notNullable();
    t.bigInteger('counter').notNullable().defaultTo(0);
    t.jsonb('transports').notNullable().defaultTo('[]');
    t.text('device_type').notNullable(); // singleDevice | multiDevice
    t.boolean('backed_up').notNullable().defaultTo(false);
    t.text('aaguid').nullable();
    t.text('name').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('last_used_at', { useTz: true }).nullable();
    t.index(['account_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('passkey_credentials');
}
