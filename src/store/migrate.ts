// Runs the migrations in migrations/ (the same files on PostgreSQL and PGlite).
// A custom source imports them through the running loader, so .ts files work under tsx and vitest.
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Knex } from 'knex';

const migrationsDir = fileURLToPath(new URL('../../migrations/', import.meta.url));

type Migration = { up: (knex: Knex) => Promise<void>; down?: (knex: Knex) => Promise<void> };

const source: Knex.MigrationSource<string> = {
  getMigrations: async () =>
    readdirSync(migrationsDir)
      .filter((f) => /^\d{14}_[\w-]+\.ts$/.test(f))
      .sort(),
  getMigrationName: (name) => name,
  getMigration: async (name) => (await import(pathToFileURL(migrationsDir + name).href)) as Migration,
};

/** Applies pending migrations; returns the names applied. Safe to call on every start. */
export const migrateLatest = async (knex: Knex): Promise<string[]> => {
  const [, applied] = (await knex.migrate.latest({ migrationSource: source })) as [number, string[]];
  return applied;
};
