// Runs the migrations in ./migrations (the same files on PostgreSQL and PGlite).
// A custom source imports them through the running loader: .ts under tsx and vitest, .js in the
// production build (dist/). Both record the .ts name, so one database serves either.
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Knex } from 'knex';

const migrationsDir = fileURLToPath(new URL('./migrations/', import.meta.url));

type Migration = { up: (knex: Knex) => Promise<void>; down?: (knex: Knex) => Promise<void> };

const source: Knex.MigrationSource<string> = {
  getMigrations: async () =>
    readdirSync(migrationsDir)
      .filter((f) => /^\d{14}_[\w-]+\.(ts|js)$/.test(f) && !f.endsWith('.d.ts'))
      .sort(),
  getMigrationName: (name) => name.replace(/\.js$/, '.ts'),
  getMigration: async (name) =>
    (await import(pathToFileURL(migrationsDir + name).href)) as Migration,
};

// Held on one connection while migrating, so instances starting together wait for each other
// instead of failing on knex's "Migration table is already locked".
const MIGRATION_LOCK = 0x6d696772;

/** Applies pending migrations; returns the names applied. Safe to call on every start, from every instance. */
export const migrateLatest = async (knex: Knex): Promise<string[]> => {
  const connection = await knex.client.acquireConnection();
  try {
    await knex.raw('select pg_advisory_lock(?)', [MIGRATION_LOCK]).connection(connection);
    try {
      const [, applied] = (await knex.migrate.latest({ migrationSource: source })) as [
        number,
        string[],
      ];
      return applied;
    } finally {
      await knex.raw('select pg_advisory_unlock(?)', [MIGRATION_LOCK]).connection(connection);
    }
  } finally {
    await knex.client.releaseConnection(connection);
  }
};
