// The CLI as an operator runs it: a real `src/cli/main.ts` process beside a running test app, on
// the same database (in the embedded default it joins the app's PGlite over its loopback socket).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { inject } from 'vitest';
import { cliActor } from '../../src/cli/cli-actor.ts';
import type { TestApp } from './app.ts';

const run = promisify(execFile);

export type CliResult = { code: number; stdout: string; stderr: string };

/** `npm run cli -- ...args` with exactly these settings on top of this process's environment. */
export const cliProcess = async (
  env: Record<string, string | undefined>,
  args: string[],
  timeout = 60_000,
): Promise<CliResult> => {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', ...args],
      { env: { ...process.env, ...env, LOG_LEVEL: 'silent' }, timeout },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout: string; stderr: string };
    return {
      code: typeof e.code === 'number' ? e.code : 1,
      stdout: e.stdout ?? '',
      stderr: e.stderr ?? String(error),
    };
  }
};

/** The settings the CLI needs to work on a test app: its data directory, database and secrets. */
export const cliEnv = (app: TestApp): Record<string, string> => {
  const secrets = inject('secrets');
  return {
    DATA_DIR: app.config.dataDir,
    ISSUER: app.issuer,
    COOKIE_KEYS: secrets.cookieKey,
    KEY_ENCRYPTION_KEYS: secrets.keyEncryptionKey,
    AUDIT_KEYS: secrets.auditKey,
    PAIRWISE_SALT: secrets.pairwiseSalt,
    ...(app.config.databaseUrl && { DATABASE_URL: app.config.databaseUrl }),
  };
};

/** `npm run cli -- ...args` against a test app. */
export const runCli = (app: TestApp, ...args: string[]): Promise<CliResult> =>
  cliProcess(cliEnv(app), args);

/** The audit actor of a CLI run from this test process: `cli:<os user>@<host>`, as the child is. */
export const cliOperator = cliActor();
