import type { Knex } from 'knex';

// The consent expiry sweep finds open consents past their expiry: a partial index keeps that a
// short range scan however many consents there are.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(
    'create index consents_open_expiry_idx on consents (expires_at) where withdrawn_at is null',
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists consents_open_expiry_idx');
}
