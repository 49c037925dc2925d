import type { Knex } from 'knex';

// Administrators search accounts by the start of a name, at most 20 by name (searchAccounts).
// A btree under the database's collation (ko_KR, en_US, even C.UTF-8) cannot serve `like
// 'prefix%'`: the planner uses one only under "C" (or text_pattern_ops, which cannot serve the
// order). Under "C" the prefix is one range of this index, already in the order the search asks
// for (`name collate "C", id`), so the LIMIT ends the walk among 14 million accounts.
// `if not exists`: an operator may build it beforehand with `create index concurrently` (the
// same statement), since this build blocks writes to accounts while it runs (docs/deploy.md).
export async function up(knex: Knex): Promise<void> {
  await knex.raw(
    'create index if not exists accounts_name_search_idx on accounts (name collate "C", id)',
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists accounts_name_search_idx');
}
