// Starting and stopping the benchmark's servers, each in its own child process so the load
// generator never shares their event loop: One-ID (bench/server.ts) on PostgreSQL + Redis or on
// the embedded default, and the bare engine (bench/baseline.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import type { Knex } from 'knex';
import { freePort } from '../test/support/free-port.ts';

export { freePort };

export type Started = {
  name: string;
  port: number;
  issuer: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  seed?: string;
  child: ChildProcess;
};

const benchDir = fileURLToPath(new URL('.', import.meta.url));

/** Runs `script` (under tsx) with env; resolves with its first JSON stdout line once listening. */
export const startTarget = async (
  name: string,
  script: string,
  env: Record<string, string>,
  options: {
    profileDir?: string | undefined;
    /** The profiler's sampling interval (µs; node's default is 1000). */
    profileIntervalUs?: number;
    timeoutMs?: number;
    root?: string | undefined;
  } = {},
): Promise<Started> => {
  const port = await freePort();
  const issuer = `http://localhost:${port}`;
  const args = [
    '--import',
    'tsx',
    ...(options.profileDir ? ['--cpu-prof', '--cpu-prof-dir', options.profileDir] : []),
    ...(options.profileIntervalUs
      ? ['--cpu-prof-interval', String(options.profileIntervalUs)]
      : []),
    options.root ? `${options.root}/bench/${script}` : `${benchDir}${script}`,
  ];
  const child = spawn(process.execPath, args, {
    ...(options.root && { cwd: options.root }),
    env: {
      ...process.env,
      NODE_ENV: 'development',
      LOG_LEVEL: 'warn',
      ...env,
      PORT: String(port),
      HOST: '127.0.0.1',
      ISSUER: issuer,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  return new Promise<Started>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`${name} did not start within ${options.timeoutMs ?? 180_000} ms: ${stderr}`),
      );
    }, options.timeoutMs ?? 180_000);
    let out = '';
    let ready = false;
    child.stdout!.on('data', (d: Buffer) => {
      if (ready) return;
      out += d.toString();
      // The ready line is the one carrying the port (a log line may come first).
      const line = out.split('\n').find((l) => l.startsWith('{"port"'));
      if (!line) return;
      ready = true;
      clearTimeout(timer);
      const info = JSON.parse(line) as Omit<Started, 'name' | 'child' | 'issuer'>;
      resolve({ ...info, name, issuer, child });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code}) before listening: ${stderr}`));
    });
  });
};

/** SIGTERM, then waits for the exit (the profile, when asked, is written on the way out). */
export const stopTarget = (target: Started, timeoutMs = 30_000) =>
  new Promise<void>((resolve) => {
    if (target.child.exitCode !== null) return resolve();
    const timer = setTimeout(() => target.child.kill('SIGKILL'), timeoutMs);
    target.child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    target.child.kill('SIGTERM');
  });

/**
 * A fresh PostgreSQL database (created through `admin`) and a flushed Redis DB for one One-ID
 * target: the environment that points One-ID at them, and `drop()` to remove both afterwards.
 */
export const freshBackends = async (
  admin: Knex,
  adminUrl: string,
  redisUrl: string,
  name: string,
  redisIndex: number,
) => {
  await admin.raw(`CREATE DATABASE ${name}`);
  const database = new URL(adminUrl);
  database.pathname = `/${name}`;
  const redisDb = new URL(redisUrl);
  redisDb.pathname = `/${redisIndex}`;
  const redis = new Redis(redisDb.toString(), { maxRetriesPerRequest: 1 });
  await redis.flushdb();
  return {
    env: { DATABASE_URL: database.toString(), REDIS_URL: redisDb.toString() },
    async drop() {
      await redis.flushdb().catch(() => undefined);
      redis.disconnect();
      await admin.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
    },
  };
};
