// The SQL database: PostgreSQL when DATABASE_URL is set, otherwise the embedded PGlite
// (real Postgres in WASM) under DATA_DIR. The embedded database is served on a loopback
// socket (pglite-server.ts) and every user, the server and the CLI alike, talks to it with
// knex's `pg` client: one code path for both backends, and the socket server runs each
// connection's requests and transactions whole, so the CLI can run while the server does.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { servePglite } from './pglite-server.ts';
import { markEmbedded } from './prepared.ts';

export type Database = {
  knex: Knex;
  kind: 'postgres' | 'embedded';
  /** Liveness check for /readyz. */
  ping: () => Promise<void>;
  /**
   * The embedded database's owner only: calls `listener` with the payload of every
   * `pg_notify(CHANGES_CHANNEL, topic)`, from any connection (the server's or a CLI's), as the
   * notifying statement completes (store/change-feed.ts, createDatabaseChangeFeed).
   */
  onChange?: (listener: (topic: string) => void) => void;
  close: () => Promise<void>;
};

type EmbeddedLock = { pid: number; port: number };

const lockPath = (dataDir: string) => join(dataDir, 'pglite-server.json');

const canConnect = (port: number) =>
  new Promise<boolean>((done) => {
    const socket = connect({ host: '127.0.0.1', port });
    const finish = (ok: boolean) => {
      socket.destroy();
      done(ok);
    };
    socket.setTimeout(1000, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });

const processAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const readLock = (dataDir: string): EmbeddedLock | undefined => {
  try {
    return JSON.parse(readFileSync(lockPath(dataDir), 'utf8')) as EmbeddedLock;
  } catch {
    return undefined;
  }
};

// A PostgreSQL that is down fails queries at once (knex propagates the refused connection); one
// that does not answer fails them within connectionTimeoutMillis / acquireConnectionTimeout,
// so requests get 503 rather than hang. Broken pooled connections are dropped and replaced.
// A one-off command (the CLI) has no one waiting on a 503 and may wait longer for a busy server.
const pgKnex = (connectionString: string, poolMax: number, patient = false) =>
  knexFactory({
    client: 'pg',
    connection: {
      connectionString,
      connectionTimeoutMillis: patient ? 20_000 : 3000,
      keepAlive: true,
    },
    pool: { min: 0, max: poolMax },
    acquireConnectionTimeout: patient ? 30_000 : 5000,
  });

/** The channel of createDatabaseChangeFeed's messages (one embedded database, one deployment). */
export const CHANGES_CHANNEL = 'oneid_changes';

const wrap = (
  knex: Knex,
  kind: Database['kind'],
  onClose: () => Promise<void> = async () => {},
  onChange?: Database['onChange'],
): Database => ({
  knex,
  kind,
  ...(onChange && { onChange }),
  ping: async () => {
    await knex.raw('select 1');
  },
  close: async () => {
    await knex.destroy();
    await onClose();
  },
});

/** Starts the embedded PGlite under dataDir and serves it on 127.0.0.1 (ephemeral port). */
const ownEmbedded = async (dataDir: string, poolMax: number): Promise<Database> => {
  const { PGlite } = await import('@electric-sql/pglite');
  const pglite = await PGlite.create(join(dataDir, 'pglite'));
  // Listening before any connection is served: a LISTEN run later could land inside another
  // connection's open transaction (one backend) and be lost with its rollback.
  await pglite.exec(`LISTEN ${CHANGES_CHANNEL}`);
  const listeners = new Set<(topic: string) => void>();
  const server = await servePglite(pglite, {
    onNotification: (channel, payload) => {
      if (channel === CHANGES_CHANNEL) for (const listener of listeners) listener(payload);
    },
  });
  const { port } = server;
  writeFileSync(
    lockPath(dataDir),
    JSON.stringify({ pid: process.pid, port } satisfies EmbeddedLock),
    { mode: 0o600 },
  );
  // Several connections are safe here: pglite-server.ts runs each connection's request (up to
  // Sync) and transaction as a unit. (pglite-socket 0.2.17 queues single protocol messages and can
  // interleave concurrent connections' Parse/Bind/Execute: electric-sql/pglite#1046.)
  // In process, a connection waits on this event loop, not on a network: a loop busy with PGlite
  // itself (startup, a migration) is slow, not down, so it gets the patient timeouts.
  const knex = markEmbedded(
    pgKnex(`postgres://postgres@127.0.0.1:${port}/postgres`, poolMax, true),
  );
  return wrap(
    knex,
    'embedded',
    async () => {
      await server.close();
      await pglite.close();
      if (readLock(dataDir)?.pid === process.pid) rmSync(lockPath(dataDir), { force: true });
    },
    (listener) => listeners.add(listener),
  );
};

/**
 * Opens the database. In the embedded default, a process that finds a live server for the
 * same DATA_DIR joins it over the socket instead of opening the files a second time.
 */
export const openDatabase = async (options: {
  databaseUrl: string | undefined;
  dataDir: string;
  poolMax?: number;
  /** Wait longer for connections (a one-off command such as the CLI, rather than a server). */
  patient?: boolean;
}): Promise<Database> => {
  const poolMax = options.poolMax ?? 10;
  if (options.databaseUrl)
    return wrap(pgKnex(options.databaseUrl, poolMax, options.patient), 'postgres');
  const dataDir = resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const lock = existsSync(lockPath(dataDir)) ? readLock(dataDir) : undefined;
  if (lock && lock.pid !== process.pid && processAlive(lock.pid) && (await canConnect(lock.port))) {
    return wrap(
      markEmbedded(
        pgKnex(
          `postgres://postgres@127.0.0.1:${lock.port}/postgres`,
          Math.min(poolMax, 4),
          options.patient,
        ),
      ),
      'embedded',
    );
  }
  return ownEmbedded(dataDir, poolMax);
};
