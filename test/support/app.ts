// Starts the real One-ID app on a free port against the run's backend: PostgreSQL + Redis
// when the run has DATABASE_URL/REDIS_URL, otherwise the embedded PGlite + in-process store.
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import knexFactory from 'knex';
import { inject } from 'vitest';
import { createApp, type App, type AppOptions } from '../../src/app.ts';
import { loadConfig, type Config } from '../../src/config/index.ts';
import { createLogger } from '../../src/shared/index.ts';
import { freePort } from './free-port.ts';

export { freePort };

export type TestApp = App & {
  issuer: string;
  port: number;
  dataDir: string;
  /** The settings it runs with (e.g. for the CLI against it). */
  env: Record<string, string>;
  stop: () => Promise<void>;
};

let copies = 0;
/**
 * A fresh copy of the run's migrated PostgreSQL database. Nothing else may connect to the
 * template: PostgreSQL holds a new connection to it while a copy runs (and refuses a copy while
 * anyone is connected), so one file's connection would stall or fail another file's app.
 */
const copyDatabase = async (templateUrl: string, adminUrl: string): Promise<string> => {
  const template = new URL(templateUrl);
  const name = `${template.pathname.slice(1)}_${process.pid}_${(copies += 1)}`;
  const admin = knexFactory({ client: 'pg', connection: adminUrl, pool: { min: 0, max: 1 } });
  try {
    // Two workers copying the same template at once may collide: retry briefly.
    for (let attempt = 0; ; attempt += 1) {
      try {
        await admin.raw(`CREATE DATABASE ${name} TEMPLATE ${template.pathname.slice(1)}`);
        break;
      } catch (error) {
        if (attempt >= 20 || !/being accessed by other users/.test((error as Error).message))
          throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 200));
      }
    }
  } finally {
    await admin.destroy();
  }
  template.pathname = `/${name}`;
  return template.toString();
};

/** A database of the caller's own on the PostgreSQL run; undefined on the embedded run. */
export const ownDatabaseUrl = async (): Promise<string | undefined> => {
  const template = inject('databaseTemplate');
  const adminUrl = inject('databaseAdminUrl');
  return template && adminUrl ? copyDatabase(template, adminUrl) : undefined;
};

/** Whether this run is on PostgreSQL (+ Redis) rather than the embedded default. */
export const onPostgres = () => Boolean(inject('databaseTemplate'));

/**
 * Each app gets a database of its own unless `env.DATABASE_URL` names one (instances sharing it).
 * `overrides` are applied after validation (e.g. an idle timeout under the 60 s minimum); a
 * `dataDir` given by the caller outlives `stop` (restarts).
 */
export const startTestApp = async (
  env: Record<string, string> = {},
  options: { port?: number; dataDir?: string; app?: AppOptions; overrides?: Partial<Config> } = {},
): Promise<TestApp> => {
  const port = options.port ?? (await freePort());
  const secrets = inject('secrets');
  const databaseUrl = env.DATABASE_URL ?? (await ownDatabaseUrl());
  const redisUrl = inject('redisUrl');
  let dataDir = options.dataDir;
  let ownDataDir = false;
  if (!dataDir) {
    dataDir = mkdtempSync(join(tmpdir(), 'oneid-test-'));
    ownDataDir = true;
    const template = inject('pgliteTemplate');
    if (template && !databaseUrl)
      cpSync(join(template, 'pglite'), join(dataDir, 'pglite'), { recursive: true });
  }
  // "localhost", not 127.0.0.1: WebAuthn needs a domain as RP ID.
  // A second instance of a cluster is given the first one's ISSUER and still listens on `port`.
  const issuer = env.ISSUER ?? `http://localhost:${port}`;
  const fullEnv: Record<string, string> = {
    PORT: String(port),
    HOST: '127.0.0.1',
    ISSUER: issuer,
    DATA_DIR: dataDir,
    COOKIE_KEYS: secrets.cookieKey,
    KEY_ENCRYPTION_KEYS: secrets.keyEncryptionKey,
    AUDIT_KEYS: secrets.auditKey,
    PAIRWISE_SALT: secrets.pairwiseSalt,
    LOG_LEVEL: 'warn',
    // Test upstreams and claim sources run on loopback, which One-ID calls only when listed.
    OUTBOUND_PRIVATE_HOSTS: '127.0.0.1',
    ...(databaseUrl && { DATABASE_URL: databaseUrl }),
    ...(redisUrl && { REDIS_URL: redisUrl }),
    ...env,
  };
  const config = { ...loadConfig(fullEnv), ...options.overrides };
  const app = await createApp(config, {
    logger: createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'),
    ...options.app,
  });
  await app.listen(port, '127.0.0.1');
  return Object.assign(app, {
    issuer,
    port,
    dataDir,
    env: fullEnv,
    stop: async () => {
      await app.close();
      if (ownDataDir) rmSync(dataDir!, { recursive: true, force: true });
    },
  });
};
