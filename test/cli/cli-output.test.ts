// The CLI's stdout is its command's output alone (operators' scripts read it); its logs go to
// stderr. A first run that generates development secrets says so there, as the server does.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const dataDir = mkdtempSync(join(tmpdir(), 'oneid-cli-output-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('CLI output', () => {
  it('keeps logs off stdout: the development-secrets warning goes to stderr', async () => {
    const env: Record<string, string | undefined> = {
      ...process.env,
      LOG_LEVEL: 'info',
      DATA_DIR: dataDir,
      ISSUER: 'http://localhost:3000',
    };
    // A fresh embedded deployment: no database, Redis or secrets in the environment.
    for (const name of [
      'DATABASE_URL',
      'REDIS_URL',
      'COOKIE_KEYS',
      'KEY_ENCRYPTION_KEYS',
      'AUDIT_KEYS',
      'PAIRWISE_SALT',
    ])
      delete env[name];
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'claims', 'list'],
      { env, timeout: 60_000 },
    );
    expect(stdout).not.toMatch(/"level"|development secrets/);
    expect(stdout.trim().length).toBeGreaterThan(0);
    expect(stderr).toMatch(/development secrets generated/);
  });
});
