// The CLI as an operator runs it: a real process, on the same database as a running server
// (in the embedded default it joins the server's PGlite over its loopback socket).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { runCli } from '../support/cli.ts';

let app: TestApp;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'oneid-cli-'));
  app = await startTestApp({}, { dataDir: join(dir, 'data') });
});
afterAll(async () => {
  await app?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const cli = (...args: string[]) => runCli(app, ...args);

describe('npm run cli', () => {
  it('enrols a citizen while the server runs, and the link works on the server', async () => {
    const result = await cli(
      'citizens',
      'enroll',
      '--name',
      '홍길동',
      '--birthdate',
      '1990-01-01',
      '--email',
      'hong@example.com',
    );
    expect(result.code).toBe(0);
    const link = /(http:\/\/localhost:\d+\/enrol\/[\w-]+)/.exec(result.stdout)![1]!;
    const page = await fetch(link);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('홍길동');
  });

  it('registers a client from a file and lists it; the secret is shown once', async () => {
    const file = join(dir, 'client.json');
    writeFileSync(
      file,
      JSON.stringify({
        client_id: 'cli-portal',
        client_name: 'CLI portal',
        agency: 'Test Agency',
        redirect_uris: ['https://portal.example.go.kr/cb'],
      }),
    );
    const added = await cli('clients', 'add', '--file', file);
    expect(added.code).toBe(0);
    expect(added.stdout).toMatch(/client_secret: [\w-]{43}/);
    const listed = await cli('clients', 'list');
    expect(listed.stdout).toContain('cli-portal');
    expect(listed.stdout).not.toMatch(/client_secret:/);
    // The running server knows the client at once.
    const metadata = await app.services.clients.engineMetadata('cli-portal');
    expect(metadata?.redirect_uris).toEqual(['https://portal.example.go.kr/cb']);
  });

  it('names the bad field of a client file, and exits non-zero', async () => {
    const file = join(dir, 'bad.json');
    writeFileSync(
      file,
      JSON.stringify({
        client_name: 'x',
        agency: 'y',
        redirect_uris: ['https://*.example.go.kr/cb'],
        grant_types: ['implicit'],
      }),
    );
    const result = await cli('clients', 'add', '--file', file);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/redirect_uris\.0: must not contain wildcards/);
    expect(result.stderr).toMatch(/grant_types\.0/);
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{ not json');
    expect((await cli('clients', 'add', '--file', broken)).stderr).toMatch(/not valid JSON/);
  });

  it('rejects a bad birthdate and unknown options with a clear message', async () => {
    expect(
      (await cli('citizens', 'enroll', '--name', 'x', '--birthdate', '1990-02-31')).stderr,
    ).toMatch(/birthdate: is not a real date/);
    const unknown = await cli('clients', 'add', '--bogus');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/Unknown option/);
  });

  it('rotates signing keys and verifies the audit chain', async () => {
    const rotated = await cli('keys', 'rotate', '--now');
    expect(rotated.code).toBe(0);
    expect((await cli('keys', 'list')).stdout).toMatch(/retired/);
    const verified = await cli('audit', 'verify');
    expect(verified.stdout).toMatch(/Audit chain intact: \d+ record/);
  });
});
