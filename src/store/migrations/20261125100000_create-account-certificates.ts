import type { Knex } from 'knex';

// Certificates linked to citizens' accounts (certificate login). One row per certificate
// (keyed by the SHA-256 of its DER); a renewed certificate that maps to the same subject key
// (CERT_MAPPING_RULE) is added as another row of the same account.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('account_certificates', (t) => {
    t.text('fingerprint').primary(); // lowercase hex SHA-256 of the leaf DER
    t.uuid('account_id').notNullable().references('id').inTable('accounts').onDelete('CASCADE');
    t.text('subject_key').notNullable(); // certificateSubjectKey(cert, CERT_MAPPING_RULE)
    t.text('issuer').notNullable();
    t.text('serial').notNullable(); // lowercase hex
    t.text('subject').notNullable();
    t.timestamp('not_after', { useTz: true }).notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('last_used_at', { useTz: true }).nullable();
    t.index(['subject_key']);
    t.index(['account_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('account_certificates');
}
