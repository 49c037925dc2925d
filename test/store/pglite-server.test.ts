// The embedded database's socket server: concurrent pg connections (the server's pool and a CLI)
// each see the database as if alone — requests never interleave, transactions stay whole, and a
// connection that drops inside a transaction is rolled back before anyone else runs.
import { PGlite } from '@electric-sql/pglite';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { servePglite } from '../../src/store/pglite-server.ts';

let db: PGlite;
let server: Awaited<ReturnType<typeof servePglite>>;
let a: Knex;
let b: Knex;
const url = () => `postgres://postgres@127.0.0.1:${server.port}/postgres`;

beforeAll(async () => {
  db = await PGlite.create();
  server = await servePglite(db);
  a = knexFactory({ client: 'pg', connection: url(), pool: { min: 0, max: 8 } });
  b = knexFactory({ client: 'pg', connection: url(), pool: { min: 0, max: 8 } });
  await a.raw('create table items (id serial primary key, v int not null)');
});
afterAll(async () => {
  await a?.destroy();
  await b?.destroy();
  await server?.close();
  await db?.close();
});

describe('pglite server', () => {
  it('answers many concurrent parameterised queries of different shapes correctly', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 600 }, (_, i) =>
        (i % 2 ? a : b).raw(
          i % 3
            ? 'select ?::int + ?::int as s, ?::text as x'
            : "select ?::int + 1 as s, 'q' || ?::text as x",
          i % 3 ? [i, 1, `v${i}`] : [i, `v${i}`],
        ),
      ),
    );
    const wrong = results.filter(
      (r, i) =>
        r.status === 'rejected' ||
        r.value.rows[0].s !== i + 1 ||
        r.value.rows[0].x !== (i % 3 ? `v${i}` : `qv${i}`),
    );
    expect(wrong).toHaveLength(0);
  });

  it('keeps transactions isolated from other connections and rolls back failures', async () => {
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? a : b)
          .transaction(async (trx) => {
            await trx('items').insert({ v: 1000 + i });
            expect(
              Number(
                (
                  await trx('items')
                    .where({ v: 1000 + i })
                    .count()
                )[0]!.count,
              ),
            ).toBe(1);
            if (i % 5 === 0) throw new Error('roll back');
          })
          .catch((error: Error) => {
            if (error.message !== 'roll back') throw error;
          }),
      ),
    );
    expect(Number((await a('items').where('v', '>=', 1000).count())[0]!.count)).toBe(16);
  });

  it('rolls back a transaction whose connection vanished, before running anyone else', async () => {
    const client = new pg.Client({ connectionString: url() });
    client.on('error', () => undefined);
    await client.connect();
    await client.query('begin');
    await client.query('insert into items (v) values (42)');
    const waiting = b('items').where({ v: 42 }).count();
    // The other connection waits while the transaction is open...
    const raced = await Promise.race([
      waiting.then(() => 'answered'),
      new Promise((r) => setTimeout(() => r('waiting'), 300)),
    ]);
    expect(raced).toBe('waiting');
    // ...and, once the owner disappears, sees no trace of it.
    (
      client as unknown as { connection: { stream: { destroy: () => void } } }
    ).connection.stream.destroy();
    expect(Number((await waiting)[0]!.count)).toBe(0);
  });
});

describe('pglite server shutdown', () => {
  it('closes while units are queued and running, and nothing touches the closed database', async () => {
    const own = await PGlite.create();
    const served = await servePglite(own);
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    try {
      const clients = await Promise.all(
        Array.from({ length: 4 }, async () => {
          const client = new pg.Client({
            connectionString: `postgres://postgres@127.0.0.1:${served.port}/postgres`,
          });
          client.on('error', () => undefined);
          await client.connect();
          return client;
        }),
      );
      // A queue of work on every connection, one of them inside a transaction.
      await clients[0]!.query('begin');
      const inFlight = clients.flatMap((client) =>
        Array.from({ length: 20 }, (_, i) =>
          client.query('select generate_series(1, $1::int) as n', [200 + i]).catch(() => 'ended'),
        ),
      );
      // The embedded database's own shutdown order: the server, then the database.
      await served.close();
      await own.close();
      await Promise.all(inFlight);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(rejections).toEqual([]);
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });
});
