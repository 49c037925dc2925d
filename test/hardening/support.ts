// Shared by the hardening tests: private Redis and PostgreSQL servers this file alone may stop
// (never the machine's shared ones on 6379/5432, which other test runs are using), a captured
// log, requests that come through a trusted proxy or from another local address, and a
// snapshot of the durable tables to compare before and after a fault.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Knex } from 'knex';
import { expect } from 'vitest';
import { createLogger } from '../../src/shared/index.ts';
import { freePort } from '../support/app.ts';

/** Waits until `check` passes or `timeoutMs` has passed (then throws its last error). */
export const within = async <T>(
  timeoutMs: number,
  check: () => T | Promise<T>,
  intervalMs = 100,
): Promise<T> => {
  const started = Date.now();
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() - started > timeoutMs) throw error;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }
};

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A fetch that must answer within `ms` (a hang fails the test instead of stalling it). */
export const timedFetch = (url: string | URL, init: RequestInit = {}, ms = 5000) =>
  fetch(url, { redirect: 'manual', ...init, signal: AbortSignal.timeout(ms) });

/** Headers of a request forwarded by the trusted proxy (127.0.0.1 in TRUSTED_PROXIES) for `address`. */
export const via = (address: string, headers: Record<string, string> = {}) => ({
  'x-forwarded-for': address,
  ...headers,
});

/** A raw HTTP request from a chosen local address (e.g. 127.0.0.2, a peer that is not a trusted proxy). */
export const requestFrom = (
  localAddress: string,
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
) =>
  new Promise<{
    status: number;
    headers: Record<string, string | string[] | undefined>;
    body: string;
  }>((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: options.method ?? 'GET', headers: options.headers, localAddress, timeout: 5000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(options.body);
  });

/** Every log line the app writes, and a check that none contains a forbidden value. */
export const captureLogs = (level = 'info') => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return {
    lines,
    logger: createLogger(level, sink),
    /** Fails naming the first forbidden value (by its name, never printing it) found in the log. */
    expectNone(forbidden: Record<string, string | undefined>) {
      const log = lines.join('\n');
      for (const [name, value] of Object.entries(forbidden)) {
        if (value) expect(log.includes(value), `the log contains the ${name}`).toBe(false);
      }
    },
  };
};

export const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;

/** A redis-server of our own, as a child process we may kill, pause and start again (same port). */
export const startPrivateRedis = async (options: { password?: string } = {}) => {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--daemonize',
    'no',
    ...(options.password ? ['--requirepass', options.password] : []),
  ];
  const auth = options.password ? `:${encodeURIComponent(options.password)}@` : '';
  const answering = () =>
    within(
      10_000,
      () => {
        const ping = spawnSync(
          'redis-cli',
          [
            '-p',
            String(port),
            ...(options.password ? ['--no-auth-warning', '-a', options.password] : []),
            'ping',
          ],
          { encoding: 'utf8', timeout: 2000 },
        );
        if (ping.stdout.trim() !== 'PONG') throw new Error(`redis on ${port} not answering`);
      },
      50,
    );
  const start = async () => {
    child = spawn('redis-server', args, { stdio: 'ignore' });
    await answering();
  };
  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGKILL');
    });
  };
  await start();
  return {
    port,
    url: `redis://${auth}127.0.0.1:${port}`,
    start,
    /** Kills the server (as a crash would): its data is gone (no persistence). */
    stop,
    /** SIGSTOP: the server hangs (connections stay open, nothing answers); resume() continues it. */
    pause: () => void child?.kill('SIGSTOP'),
    resume: () => void child?.kill('SIGCONT'),
    close: async () => {
      child?.kill('SIGCONT');
      await stop();
    },
  };
};

const pgBin = (() => {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const version = readdirSync(root).sort((a, b) => Number(b) - Number(a))[0];
  const bin = version && join(root, version, 'bin');
  return bin && existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'pg_ctl'))
    ? bin
    : undefined;
})();
export const hasPostgresServer = Boolean(pgBin);

// PostgreSQL refuses to run as root: as root, run its tools as the postgres user.
const asPostgres = (command: string, args: string[]) =>
  process.getuid?.() === 0
    ? (['runuser', ['-u', 'postgres', '--', command, ...args]] as const)
    : ([command, args] as const);

const runPg = (tool: string, args: string[], timeout = 30_000) => {
  const [command, argv] = asPostgres(join(pgBin!, tool), args);
  const result = spawnSync(command, [...argv], { encoding: 'utf8', timeout });
  if (result.status !== 0)
    throw new Error(`${tool} ${args.join(' ')} failed: ${result.stdout}${result.stderr}`);
};

/** A PostgreSQL cluster of our own in a temp directory, on a free port; stop() and start() at will. */
export const startPrivatePostgres = async () => {
  const dir = mkdtempSync(join(tmpdir(), 'oneid-pg-'));
  if (process.getuid?.() === 0)
    chownSync(
      dir,
      Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim()),
      Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim()),
    );
  const data = join(dir, 'data');
  const port = await freePort();
  runPg('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`;
  const start = async () =>
    runPg('pg_ctl', ['-D', data, '-o', options, '-w', '-t', '20', '-l', join(dir, 'log'), 'start']);
  /** A fast shutdown: open connections are terminated (57P01), new ones refused. */
  const stop = async () => runPg('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '20', 'stop']);
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start,
    stop,
    close: async () => {
      try {
        await stop();
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
};

/** The durable records a fault must neither lose nor duplicate. */
export const snapshot = async (knex: Knex) => {
  const rows = async (table: string, columns: string[], order: string) =>
    (await knex(table).select(columns).orderBy(order)) as Record<string, unknown>[];
  return {
    accounts: await rows('accounts', ['id', 'status'], 'id'),
    credentials: await rows('passkey_credentials', ['id', 'account_id', 'counter'], 'id'),
    consents: await rows('consents', ['id', 'account_id', 'client_id'], 'id'),
    audit: await rows('audit_events', ['id', 'action', 'hash'], 'id'),
    clients: await rows('clients', ['client_id', 'secret_sealed'], 'client_id'),
  };
};

export type Snapshot = Awaited<ReturnType<typeof snapshot>>;

/** Everything in `before` is still there, once, unchanged (counters may only have advanced). */
export const expectKept = (before: Snapshot, after: Snapshot) => {
  for (const table of Object.keys(before) as (keyof Snapshot)[]) {
    const key = table === 'clients' ? 'client_id' : 'id';
    const ids = after[table].map((r) => r[key]);
    expect(new Set(ids).size, `${table}: duplicated records`).toBe(ids.length);
    for (const row of before[table]) {
      const now = after[table].find((r) => r[key] === row[key]);
      expect(now, `${table}: record ${String(row[key])} was lost`).toBeDefined();
      if (table === 'credentials')
        expect(Number(now!.counter)).toBeGreaterThanOrEqual(Number(row.counter));
      else expect(now, `${table}: record ${String(row[key])} changed`).toEqual(row);
    }
  }
};
