// The embedded default's change feed (issue 16): with no Redis, a change published by any
// connection to the embedded server (the server's own pool, or a CLI's) reaches the owner's
// caches before the publishing statement returns; a NOTIFY in a rolled-back transaction never
// does; hot-path statements run unnamed there (PGlite's one backend would keep named ones).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { markEmbedded } from '../../src/store/prepared.ts';
import {
  createDatabaseChangeFeed,
  openDatabase,
  prepared,
  type ChangeFeed,
  type Database,
} from '../../src/store/index.ts';

let dir: string;
let db: Database;
let cli: Knex;
let feed: ChangeFeed;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'oneid-feed-'));
  db = await openDatabase({ databaseUrl: undefined, dataDir: dir });
  feed = createDatabaseChangeFeed(db.knex, db);
  // Another process's connection (the CLI joins the embedded server over its socket).
  const { port } = new URL(
    (db.knex.client.config.connection as { connectionString: string }).connectionString,
  );
  cli = markEmbedded(
    knexFactory({
      client: 'pg',
      connection: `postgres://postgres@127.0.0.1:${port}/postgres`,
      pool: { min: 0, max: 2 },
    }),
  );
});
afterAll(async () => {
  await cli?.destroy();
  await db?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('embedded change feed', () => {
  it('delivers a change from another connection before its statement returns', async () => {
    expect(feed.live()).toBe(true);
    const heard: string[] = [];
    feed.on('clients', () => heard.push('clients'));
    feed.on('accounts', () => heard.push('accounts'));
    await createDatabaseChangeFeed(cli).publish('clients');
    expect(heard).toEqual(['clients']);
    await feed.publish('accounts');
    expect(heard).toEqual(['clients', 'accounts']);
    // Published inside a transaction that rolls back: never heard.
    await cli
      .transaction(async (trx) => {
        await trx.raw("select pg_notify('oneid_changes', 'clients')");
        throw new Error('roll back');
      })
      .catch(() => undefined);
    expect(heard).toEqual(['clients', 'accounts']);
    // A process that only joined the server publishes but does not listen.
    expect(createDatabaseChangeFeed(cli).live()).toBe(false);
  });

  it('runs hot-path statements from two processes unnamed, leaving none prepared', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        prepared<{ n: number }>(i % 2 ? cli : db.knex, 'feed_test', 'SELECT $1::int + 1 AS n', [i]),
      ),
    );
    expect(results.map(([row]) => row!.n)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    const { rows } = await cli.raw('select count(*)::int as n from pg_prepared_statements');
    expect(rows[0].n).toBe(0);
  });
});
