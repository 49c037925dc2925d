import type { Knex } from 'knex';

// Agency account links: an agency system records that its own member id belongs to the
// citizen it knows by its pairwise sub. Readable only by the client that wrote it, released to
// that client as the `agency_member_id` claim (a catalogue item, consented like any other).
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('agency_links', (t) => {
    t.text('client_id')
      .notNullable()
      .references('client_id')
      .inTable('clients')
      .onDelete('CASCADE');
    t.uuid('account_id').notNullable().references('id').inTable('accounts').onDelete('CASCADE');
    t.text('local_id').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['client_id', 'account_id']);
    t.unique(['client_id', 'local_id']);
    t.index(['account_id']);
  });
  // The claim's catalogue entry (administrators may edit its wording later; never overwritten).
  await knex('claims_catalogue')
    .insert({
      name: 'agency_member_id',
      label_ko: '이 기관의 회원 번호',
      label_en: 'Your member number at this agency',
      description_ko: '이 기관이 One-ID 계정에 연결해 둔 기관 자체의 회원 번호(이 기관에만 제공)',
      description_en:
        'The agency’s own member number it linked to your One-ID account (given to that agency only)',
      sensitivity: 'low',
      scopes: JSON.stringify(['agency_member_id']),
      source: 'one-id',
    })
    .onConflict('name')
    .ignore();
}

export async function down(knex: Knex): Promise<void> {
  await knex('claims_catalogue').where({ name: 'agency_member_id' }).delete();
  await knex.schema.dropTable('agency_links');
}
