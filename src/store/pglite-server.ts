// Serves the embedded PGlite to pg clients (the server's pool and the CLI) on loopback.
//
// PGlite is one Postgres backend. pglite-socket's server queues single protocol messages, so
// under concurrency the Parse/Bind/Execute/Sync of one connection can interleave with another's
// and bind the wrong statement ("unnamed prepared statement does not exist", or worse). This
// server runs each connection's messages up to Sync (extended protocol) or a simple Query as one
// exclusive unit, and keeps other connections waiting while one is inside a transaction or a
// COPY, so every connection sees the database as if it were alone, as on real PostgreSQL.
import { createServer, type Server, type Socket } from 'node:net';
import type { PGlite } from '@electric-sql/pglite';

const SSL_REQUEST = 80877103;
// A simple-protocol Query message: 'Q', int32 length (13), "ROLLBACK\0".
const ROLLBACK = new Uint8Array(Buffer.from('Q\u0000\u0000\u0000\u000dROLLBACK\u0000', 'latin1'));
const CANCEL_REQUEST = 80877102;

type Batch = { conn: Connection; bytes: Uint8Array; done: () => void };
type Connection = { socket: Socket; started: boolean; closed: boolean };

/** Message types that end a unit of work the client waits on. */
const ENDS_UNIT = new Set(['S', 'Q', 'c', 'f', 'X']);
const NOTIFICATION = 0x41; // 'A': NotificationResponse (int32 pid, channel\0, payload\0)

/**
 * Finds the NotificationResponse messages in one unit's output (backend messages from its start,
 * in chunks of any size): PGlite hands its own `listen` callbacks only the notifications of its
 * JavaScript queries, not of the raw protocol the socket connections speak.
 */
const notificationScanner = (onNotification: (channel: string, payload: string) => void) => {
  let header = Buffer.alloc(0);
  let remaining = 0;
  let body: Buffer[] | undefined;
  const deliver = (message: Buffer) => {
    const channelEnd = message.indexOf(0, 4);
    const payloadEnd = message.indexOf(0, channelEnd + 1);
    if (channelEnd < 0 || payloadEnd < 0) return;
    try {
      onNotification(
        message.toString('utf8', 4, channelEnd),
        message.toString('utf8', channelEnd + 1, payloadEnd),
      );
    } catch {
      // A listener's failure is its own; the unit's output still reaches its connection.
    }
  };
  return (chunk: Uint8Array) => {
    let rest = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    while (rest.length) {
      if (remaining > 0) {
        const take = Math.min(remaining, rest.length);
        body?.push(Buffer.from(rest.subarray(0, take)));
        remaining -= take;
        rest = rest.subarray(take);
        if (remaining === 0 && body) {
          deliver(Buffer.concat(body));
          body = undefined;
        }
        continue;
      }
      const need = 5 - header.length;
      header = Buffer.concat([header, rest.subarray(0, need)]);
      rest = rest.subarray(need);
      if (header.length < 5) return;
      remaining = header.readInt32BE(1) - 4;
      body = header[0] === NOTIFICATION ? [] : undefined;
      header = Buffer.alloc(0);
    }
  };
};

export const servePglite = async (
  db: PGlite,
  options: {
    host?: string;
    port?: number;
    /** Each NOTIFY delivered to the backend's LISTENs, as its unit's output passes. */
    onNotification?: (channel: string, payload: string) => void;
  } = {},
) => {
  const queue: Batch[] = [];
  let busy = false;
  // The last run of the queue: close() waits for it, so the database is never closed under a unit.
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  // The connection that holds an open transaction or COPY: only its work may run.
  let owner: Connection | null = null;

  const pump = () => {
    if (busy) return;
    busy = true;
    running = drain();
  };
  const drain = async () => {
    try {
      while (!stopped) {
        const index = owner ? queue.findIndex((b) => b.conn === owner) : 0;
        if (index < 0 || !queue.length) return;
        const [batch] = queue.splice(index, 1) as [Batch];
        let copying = false;
        const scan = options.onNotification && notificationScanner(options.onNotification);
        if (!batch.conn.closed) {
          await db
            .runExclusive(() =>
              db.execProtocolRawStream(batch.bytes, {
                onRawData: (chunk) => {
                  scan?.(chunk);
                  // CopyInResponse ('G'): the client will now stream CopyData until CopyDone.
                  if (chunk[0] === 0x47) copying = true;
                  if (!batch.conn.closed) batch.conn.socket.write(chunk);
                },
              }),
            )
            .catch(() => undefined);
        }
        owner =
          !batch.conn.closed && !db.closed && (copying || db.isInTransaction()) ? batch.conn : null;
        batch.done();
      }
    } finally {
      busy = false;
    }
  };

  const submit = (conn: Connection, bytes: Uint8Array) =>
    new Promise<void>((done) => {
      if (stopped) return done();
      queue.push({ conn, bytes, done });
      pump();
    });

  const handle = (socket: Socket) => {
    const conn: Connection = { socket, started: false, closed: false };
    let buffer = Buffer.alloc(0);
    let pending: Buffer[] = [];
    let chain = Promise.resolve();
    socket.setNoDelay(true);

    const onData = async (data: Buffer) => {
      buffer = Buffer.concat([buffer, data]);
      for (;;) {
        if (!conn.started) {
          if (buffer.length < 8) return;
          const length = buffer.readInt32BE(0);
          if (buffer.length < length) return;
          const code = buffer.readInt32BE(4);
          const message = buffer.subarray(0, length);
          buffer = buffer.subarray(length);
          if (code === SSL_REQUEST) socket.write('N');
          else if (code === CANCEL_REQUEST) socket.end();
          else {
            conn.started = true;
            await submit(conn, new Uint8Array(message));
          }
          continue;
        }
        if (buffer.length < 5) return;
        const length = buffer.readInt32BE(1) + 1;
        if (buffer.length < length) return;
        const type = String.fromCharCode(buffer[0]!);
        pending.push(buffer.subarray(0, length));
        buffer = buffer.subarray(length);
        if (type === 'X') {
          socket.end();
          return;
        }
        if (ENDS_UNIT.has(type)) {
          const unit = Buffer.concat(pending);
          pending = [];
          await submit(conn, new Uint8Array(unit));
        }
      }
    };

    // Data is handled strictly in order per connection.
    socket.on('data', (data) => {
      chain = chain
        .then(() => onData(data))
        .catch(() => {
          socket.destroy();
        });
    });
    const close = () => {
      if (conn.closed) return;
      conn.closed = true;
      // A connection that vanished inside a transaction must not leave it open for the others:
      // roll it back before anything else runs.
      if (owner === conn) {
        const ghost: Connection = {
          socket: { write: () => true } as unknown as Socket,
          started: true,
          closed: false,
        };
        owner = ghost;
        queue.unshift({ conn: ghost, bytes: ROLLBACK, done: () => undefined });
        pump();
      }
    };
    socket.on('close', close);
    socket.on('error', close);
  };

  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    handle(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as { port: number };
  return {
    port,
    /**
     * Stops listening, drops remaining connections (e.g. a CLI still attached) and their queued
     * work, and resolves once the unit already running has finished: the database can then be
     * closed with nothing left to touch it.
     */
    close: async () => {
      stopped = true;
      for (const batch of queue.splice(0)) batch.done();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
      await running;
    },
  };
};
