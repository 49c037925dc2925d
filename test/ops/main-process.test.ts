// `npm start` as a newcomer runs it: the real src/main.ts process on the embedded default. A bad
// setting stops it with a readable message and exit code 2; a good start prints the issuer and
// the two commands to begin with, and the second of those (registering examples/client.json)
// works against it; SIGTERM stops it cleanly.
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { cliProcess } from '../support/cli.ts';
import { freePort } from '../support/free-port.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A data directory holding a copy of the run's migrated database (embedded) or nothing (PostgreSQL). */
const dataDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'oneid-main-'));
  dirs.push(dir);
  const template = inject('pgliteTemplate');
  if (template) cpSync(join(template, 'pglite'), join(dir, 'pglite'), { recursive: true });
  return dir;
};

/** Starts `src/main.ts`; resolves with its output so far once `until` matches, or when it exits. */
const start = (env: Record<string, string>, until: RegExp) => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, DATABASE_URL: '', REDIS_URL: '', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (chunk: Buffer) => (out.stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out.stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  const ready = new Promise<void>((resolve) => {
    const check = () => (until.test(out.stdout) ? resolve() : undefined);
    child.stdout.on('data', check);
    void exited.then(() => resolve());
  });
  return { child, out, exited, ready };
};

describe('npm start (src/main.ts)', () => {
  it('refuses a bad setting with a readable message and exit code 2', async () => {
    const run = start({ ISSUER: 'not a url', DATA_DIR: dataDir() }, /$^/);
    expect(await run.exited).toBe(2);
    expect(run.out.stderr).toContain('One-ID cannot start.');
    expect(run.out.stderr).toMatch(/ISSUER/);
    expect(run.out.stderr).toContain('See .env.example for every setting.');
    expect(run.out.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);

  it('prints the issuer and how to begin; the printed client registration works; SIGTERM stops it', async () => {
    const port = await freePort();
    const secrets = inject('secrets');
    // The embedded default for the server and the CLI alike, whatever backend this run uses.
    const env = {
      DATABASE_URL: '',
      REDIS_URL: '',
      PORT: String(port),
      HOST: '127.0.0.1',
      ISSUER: `http://localhost:${port}`,
      DATA_DIR: dataDir(),
      COOKIE_KEYS: secrets.cookieKey,
      KEY_ENCRYPTION_KEYS: secrets.keyEncryptionKey,
      PAIRWISE_SALT: secrets.pairwiseSalt,
    };
    const run = start(env, /npm run cli -- clients add --file examples\/client\.json\n/);
    try {
      await run.ready;
      expect(run.out.stdout).toContain('One-ID is running.');
      expect(run.out.stdout).toContain(`Issuer:     http://localhost:${port}`);
      expect(run.out.stdout).toContain(
        `Discovery:  http://localhost:${port}/.well-known/openid-configuration`,
      );
      expect(run.out.stdout).toContain('Storage:    embedded PGlite');
      expect(run.out.stdout).toContain('npm run cli -- citizens enroll --name');
      // The issuer's host: another one (fetch cannot set Host) would be 421.
      const discovery = await fetch(`http://localhost:${port}/.well-known/openid-configuration`);
      expect((await discovery.json()).issuer).toBe(`http://localhost:${port}`);

      // The banner's second command, as printed, against the running server.
      const added = await cliProcess(
        env,
        ['clients', 'add', '--file', 'examples/client.json'],
        120_000,
      );
      expect(added.stderr).toBe('');
      expect(added.code).toBe(0);
      expect(added.stdout).toContain('demo-agency-portal');
    } finally {
      run.child.kill('SIGTERM');
    }
    expect(await run.exited).toBe(0);
  }, 180_000);
});
