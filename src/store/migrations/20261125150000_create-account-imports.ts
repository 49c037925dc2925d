import type { Knex } from 'knex';

// Moving an existing portal's members in (`accounts import`): each imported account keeps the
// portal's stable member id (legacy_id, unique), so a re-run updates instead of duplicating;
// the key a member's certificate will map to (CERT_MAPPING_RULE) may come with the import; and
// each import file's progress is checkpointed so an interrupted import resumes where it stopped.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('accounts', (t) => {
    t.text('legacy_id').nullable();
  });
  await knex.raw(
    'CREATE UNIQUE INDEX accounts_legacy_id_idx ON accounts (legacy_id) WHERE legacy_id IS NOT NULL',
  );
  // Certificate subject keys known before any certificate is linked (certificate-mapping.ts).
  await knex.schema.createTable('account_subject_keys', (t) => {
    t.text('subject_key').primary();
    t.uuid('account_id').notNullable().references('id').inTable('accounts').onDelete('CASCADE');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['account_id']);
  });
  await knex.schema.createTable('account_imports', (t) => {
    t.text('id').primary(); // sha256 of the file's path, size and modification time
    t.text('file').notNullable();
    t.jsonb('columns').notNullable(); // the header, so a resumed read can start mid-file
    t.bigInteger('byte_offset').notNullable().defaultTo(0); // end of the last committed row
    t.bigInteger('line').notNullable().defaultTo(1); // last line read (the header is line 1)
    t.bigInteger('imported').notNullable().defaultTo(0);
    t.bigInteger('rejected').notNullable().defaultTo(0);
    t.text('actor').notNullable();
    t.timestamp('started_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('finished_at', { useTz: true }).nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('account_imports');
  await knex.schema.dropTable('account_subject_keys');
  await knex.raw('DROP INDEX IF EXISTS accounts_legacy_id_idx');
  await knex.schema.alterTable('accounts', (t) => {
    t.dropColumn('legacy_id');
  });
}
