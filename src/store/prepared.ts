// Hot-path statements as pg prepared statements (issue 16): PostgreSQL parses and plans each
// once per connection, and no query builder runs per request (knex stays for migrations, admin
// and reports). Runs on the handle's connection: a transaction's own, or one from the pool.
// On the embedded PGlite statements stay unnamed: it is one backend behind all its socket
// connections (the server's and a CLI's), which keeps a connection's named statements after the
// connection closes (a leak as the pool replaces idle connections) and would refuse the same
// name prepared by another connection. A name is still unique per connection and process.
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';

type PgConnection = {
  query: (q: { name?: string; text: string; values: readonly unknown[] }) => Promise<{
    rows: Record<string, unknown>[];
  }>;
  oneIdTag?: string;
};

const processTag = randomBytes(4).toString('hex');
const EMBEDDED = 'oneIdEmbedded';

/** Marks a handle to the embedded PGlite (its config, which clones and transactions share). */
export const markEmbedded = (knex: Knex): Knex => {
  (knex.client.config as Record<string, unknown>)[EMBEDDED] = true;
  return knex;
};
const isEmbedded = (db: Knex | Knex.Transaction) =>
  (db.client.config as Record<string, unknown>)[EMBEDDED] === true;
let connections = 0;

/** Runs `text` ($1, $2, ... placeholders) as the prepared statement `name`; its rows. */
export const prepared = async <Row = Record<string, unknown>>(
  db: Knex | Knex.Transaction,
  name: string,
  text: string,
  values: readonly unknown[],
): Promise<Row[]> => {
  const connection = (await db.client.acquireConnection()) as PgConnection;
  try {
    if (isEmbedded(db)) return (await connection.query({ text, values })).rows as Row[];
    connection.oneIdTag ??= `${processTag}_${(connections += 1)}`;
    const result = await connection.query({ name: `${name}_${connection.oneIdTag}`, text, values });
    return result.rows as Row[];
  } finally {
    await db.client.releaseConnection(connection);
  }
};

/** `?` placeholders as $1, $2, ... (for statements written with knex's placeholders). */
export const numbered = (sql: string): string => {
  let n = 0;
  return sql.replace(/\?/g, () => `$${(n += 1)}`);
};
