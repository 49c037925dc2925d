// Runs once before the suite. With DATABASE_URL set (the PostgreSQL + Redis run), it creates a
// fresh database for this run and migrates it; without it, it builds one migrated PGlite
// template that each test app copies (initdb costs seconds; a copy costs milliseconds).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import knexFactory from 'knex';
import type { TestProject } from 'vitest/node';
import { migrateLatest, openDatabase } from '../../src/store/index.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The PostgreSQL run's migrated template: copy it (ownDatabaseUrl), never connect to it. */
    databaseTemplate: string | undefined;
    databaseAdminUrl: string | undefined;
    redisUrl: string | undefined;
    pgliteTemplate: string | undefined;
    secrets: {
      cookieKey: string;
      keyEncryptionKey: string;
      auditKey: string;
      pairwiseSalt: string;
    };
  }
}

export default async function setup(project: TestProject) {
  const secrets = {
    cookieKey: randomBytes(32).toString('base64url'),
    keyEncryptionKey: randomBytes(32).toString('base64url'),
    auditKey: randomBytes(32).toString('base64url'),
    pairwiseSalt: randomBytes(32).toString('base64url'),
  };
  project.provide('secrets', secrets);
  project.provide('redisUrl', process.env.REDIS_URL || undefined);
  const baseUrl = process.env.DATABASE_URL;
  if (baseUrl) {
    const name = `oneid_test_${Date.now()}_${randomBytes(3).toString('hex')}`;
    const admin = knexFactory({ client: 'pg', connection: baseUrl, pool: { min: 0, max: 1 } });
    await admin.raw(`CREATE DATABASE ${name}`);
    const url = new URL(baseUrl);
    url.pathname = `/${name}`;
    const db = await openDatabase({ databaseUrl: url.toString(), dataDir: tmpdir() });
    await migrateLatest(db.knex);
    await db.close();
    // Each test app gets its own copy of this migrated database (CREATE DATABASE ... TEMPLATE),
    // so apps with different issuers never share first-party clients or other rows.
    project.provide('databaseTemplate', url.toString());
    project.provide('databaseAdminUrl', baseUrl);
    project.provide('pgliteTemplate', undefined);
    return async () => {
      const copies = await admin.raw('SELECT datname FROM pg_database WHERE datname LIKE ?', [
        `${name}%`,
      ]);
      for (const { datname } of copies.rows as { datname: string }[])
        await admin.raw(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
      await admin.destroy();
    };
  }
  const template = mkdtempSync(join(tmpdir(), 'oneid-template-'));
  const db = await openDatabase({ databaseUrl: undefined, dataDir: template });
  await migrateLatest(db.knex);
  await db.close();
  project.provide('databaseTemplate', undefined);
  project.provide('databaseAdminUrl', undefined);
  project.provide('pgliteTemplate', template);
  return () => rmSync(template, { recursive: true, force: true });
}
