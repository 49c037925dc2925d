// `npm run cli -- accounts import` as an operator runs it: a real CLI process beside a running
// server, on its database. Good rows land, bad rows are reported by line and reason, a re-run
// changes nothing, and the members then really sign in: one with a certificate whose subject maps
// to the imported record (--cert-anchor, the same mapping the sign-in uses), one with a passkey
// created from `citizens enroll-link --legacy-id`. A killed import resumes with every row once.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { createBrowserSession, csrfFrom } from '../support/browser-session.ts';
import { cliEnv, cliOperator, cliProcess } from '../support/cli.ts';
import { authorizationRequest, discover, registerClient, signIn } from '../support/flows.ts';
import { createSoftAuthenticator } from '../support/soft-authenticator.ts';
import {
  auditRows,
  certificateEnv,
  challengeSignIn,
  continueToClient,
  createTestPki,
  fingerprintOf,
  openLogin,
  redeemTokens,
  startRp,
  type TestPki,
} from '../auth/certificate-login/support.ts';

let pki: TestPki;
let app: TestApp;
let dir: string;

beforeAll(async () => {
  pki = await createTestPki();
  dir = mkdtempSync(join(tmpdir(), 'oneid-import-cli-'));
  app = await startTestApp(certificateEnv(pki));
});
afterAll(async () => {
  await app?.stop();
  await pki?.close();
  rmSync(dir, { recursive: true, force: true });
});

const cli = (args: string[], extra: Record<string, string | undefined> = {}) =>
  cliProcess({ ...cliEnv(app), ONEID_PROGRESS: undefined, ...extra }, args, 120_000);

/** A stack trace would show "    at " lines; operators get one readable line. */
const noStack = (stderr: string) => expect(stderr).not.toMatch(/^\s+at /m);

const accountsWith = (prefix: string) =>
  app.knex('accounts').where('legacy_id', 'like', `${prefix}%`);
const countWith = async (prefix: string) =>
  Number((await accountsWith(prefix).count('* as n').first())!.n);

describe('accounts import (CLI)', () => {
  const holderId = `KR-${randomBytes(6).toString('hex')}`;
  let file: string;

  it(
    'imports the good rows, reports each bad row with its reason, shows progress, and a re-run changes nothing',
    { timeout: 120_000 },
    async () => {
      file = join(dir, 'members.csv');
      writeFileSync(
        file,
        [
          'legacy_id,name,birthdate,email,phone,cert_subject_serial',
          `M-0001,김민준,1980-01-02,minjun@example.com,010-1234-5678,${holderId}`,
          'M-0002,이서연,1990-02-30,,,',
          'M-0003,박도윤,1985-03-04,doyun@example.com,,',
          ',최하은,1991-05-06,,,',
          'M-0005,정시우,1993-03-04,not-an-email,,',
          'M-0006,"강, 지우",1994-04-05,,010 5555 1234,',
          '',
        ].join('\n'),
      );
      const first = await cli(
        ['accounts', 'import', '--file', file, '--cert-anchor', pki.anchorsPath],
        { ONEID_PROGRESS: '1' },
      );
      expect(first.code, first.stderr).toBe(0);
      expect(first.stdout).toContain('6 row(s) read: 3 new, 0 updated, 0 unchanged, 3 rejected');
      expect(first.stdout).toContain(`Rejected rows (line, field, reason): ${file}.rejected.csv`);
      // ONEID_PROGRESS=1 draws the progress bar on stderr even though it is not a terminal.
      expect(first.stderr).toMatch(/\[#{30}\] 100\.0%\s+6 rows\s+3 rejected\s+[\d,]+ rows\/s\n$/);
      const report = `line,legacy_id,field,reason\n3,M-0002,birthdate,"must be a real date, YYYY-MM-DD"\n5,,legacy_id,is required\n6,M-0005,email,is not an email address\n`;
      expect(readFileSync(`${file}.rejected.csv`, 'utf8')).toBe(report);
      const rows = await accountsWith('M-')
        .orderBy('legacy_id')
        .select('legacy_id', 'name', 'birthdate', 'email', 'phone_number');
      expect(rows.map((r) => [r.legacy_id, r.name, r.email, r.phone_number])).toEqual([
        ['M-0001', '김민준', 'minjun@example.com', '01012345678'],
        ['M-0003', '박도윤', 'doyun@example.com', null],
        ['M-0006', '강, 지우', null, '01055551234'],
      ]);
      const [audit] = await auditRows(app, 'accounts.imported');
      expect(audit).toMatchObject({ actor: cliOperator, details: { file, rows: 3, rejected: 3 } });

      // The same command again: nothing new, nothing doubled, the report lists each bad row once,
      // and without ONEID_PROGRESS (stderr is no terminal) no progress bar.
      const again = await cli([
        'accounts',
        'import',
        '--file',
        file,
        '--cert-anchor',
        pki.anchorsPath,
      ]);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toContain('6 row(s) read: 0 new, 0 updated, 3 unchanged, 3 rejected');
      expect(again.stderr).toBe('');
      expect(await countWith('M-')).toBe(3);
      expect(readFileSync(`${file}.rejected.csv`, 'utf8')).toBe(report);
    },
  );

  it('signs the imported member in with a certificate whose subject serial was imported (--cert-anchor)', async () => {
    const imported = await accountsWith('M-0001').first('id');
    const leaf = await pki.citizen({
      commonName: '김민준',
      birthdate: '1980-01-02',
      subjectSerialNumber: holderId,
    });
    const rp = await startRp(app);
    const session = createBrowserSession();
    const login = await openLogin(app, session, rp.request.url);
    const { res, body } = await challengeSignIn(app, session, login, leaf, [pki.intermediate]);
    expect(res.status, JSON.stringify(body)).toBe(200);
    // Straight to the imported account: no self-enrolment of a new one.
    expect(body.location).not.toMatch(/\/certificate\/enrol$/);
    const tokens = await redeemTokens(rp, await continueToClient(app, session, body.location!));
    expect(tokens.claims()!.acr).toBe('urn:one-id:loa:high');
    const userinfo = await oidc.fetchUserInfo(rp.config, tokens.access_token, tokens.claims()!.sub);
    expect(userinfo).toMatchObject({ name: '김민준', email: 'minjun@example.com' });
    const [verified] = await auditRows(app, 'auth.certificate.verified', {
      fingerprint: fingerprintOf(leaf),
    });
    expect(verified?.actor).toBe(`account:${imported.id}`);
    expect(await countWith('M-')).toBe(3);
  });

  it(
    'lets another imported member create a passkey from `citizens enroll-link --legacy-id` and sign in',
    { timeout: 120_000 },
    async () => {
      const imported = await accountsWith('M-0003').first('id');
      const issued = await cli(['citizens', 'enroll-link', '--legacy-id', 'M-0003']);
      expect(issued.code, issued.stderr).toBe(0);
      expect(issued.stdout).toContain(`Enrolment link for account ${imported.id}`);
      const link = /(http:\/\/localhost:\d+\/enrol\/[\w-]+)/.exec(issued.stdout)![1]!;
      // The citizen opens the printed link and creates a passkey (a software authenticator here).
      const key = createSoftAuthenticator({ origin: app.issuer });
      const enrolment = createBrowserSession();
      const page = await enrolment.request(link);
      const html = await page.text();
      expect(page.status).toBe(200);
      expect(html).toContain('박도윤');
      const base = new URL(link).pathname;
      const csrf = csrfFrom(html);
      const options = await (
        await enrolment.request(`${app.issuer}${base}/options`, {
          method: 'POST',
          json: {},
          headers: { 'x-csrf-token': csrf },
        })
      ).json();
      const verify = await enrolment.request(`${app.issuer}${base}/verify`, {
        method: 'POST',
        json: key.register(options),
        headers: { 'x-csrf-token': csrf },
      });
      expect(verify.status, await verify.clone().text()).toBe(200);
      expect(
        Number(
          (await app
            .knex('passkey_credentials')
            .where({ account_id: imported.id })
            .count('* as n')
            .first())!.n,
        ),
      ).toBe(1);
      // Then an ordinary OpenID Connect sign-in with that passkey.
      const client = await registerClient(app);
      const config = await discover(app, client);
      const request = await authorizationRequest(config, client.redirectUri);
      const callback = await signIn(app, createBrowserSession(), key, request.url);
      const tokens = await oidc.authorizationCodeGrant(config, new URL(callback), {
        pkceCodeVerifier: request.verifier,
        expectedState: request.state,
        expectedNonce: request.nonce,
      });
      const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub);
      expect(userinfo).toMatchObject({
        name: '박도윤',
        email: 'doyun@example.com',
        birthdate: '1985-03-04',
      });
      const [signedIn] = await auditRows(app, 'auth.passkey.verified');
      expect(signedIn?.actor).toBe(`account:${imported.id}`);
      const [linkAudit] = await auditRows(app, 'accounts.enrolment.issued', { legacyId: 'M-0003' });
      expect(linkAudit).toMatchObject({ actor: cliOperator, subject: `account:${imported.id}` });
    },
  );

  it(
    'refuses bad arguments and bad files with one clear line and a non-zero exit',
    { timeout: 120_000 },
    async () => {
      const passwords = join(dir, 'passwords.csv');
      writeFileSync(
        passwords,
        'legacy_id,name,birthdate,password_hash\nP-1,홍길동,1990-01-01,$2b$10$abcdefghijklmnopqrstuv\n',
      );
      const [missing, secret, anchor, unknown] = await Promise.all([
        cli(['accounts', 'import']),
        cli(['accounts', 'import', '--file', passwords]),
        cli(['accounts', 'import', '--file', file, '--cert-anchor', file]),
        cli(['citizens', 'enroll-link', '--legacy-id', 'nobody-here']),
      ]);
      expect([missing.code, missing.stderr]).toEqual([2, 'Error: --file is required\n']);
      expect(secret.code).toBe(1);
      expect(secret.stderr).toMatch(/^Error: column password_hash: One-ID never imports passwords/);
      expect(anchor.code).toBe(2);
      expect(anchor.stderr).toMatch(
        /^Error: --cert-anchor: .*members\.csv is not a PEM certificate/,
      );
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toBe('Error: legacy_id: no imported account has nobody-here\n');
      for (const r of [missing, secret, anchor, unknown]) noStack(r.stderr);
      expect(await countWith('P-')).toBe(0);
    },
  );
});

describe('accounts import after a crash (CLI killed mid-way)', () => {
  /** Every 1,009th row has an impossible birthdate: a few in each batch of 5,000. */
  const bad = (i: number) => i % 1009 === 5;
  const generate = (name: string, prefix: string, rows: number) => {
    const path = join(dir, name);
    const lines = ['legacy_id,name,birthdate,email'];
    for (let i = 0; i < rows; i += 1)
      lines.push(
        `${prefix}${i},회원${i % 1000},${bad(i) ? '1990-02-30' : `19${50 + (i % 50)}-0${1 + (i % 9)}-1${i % 10}`},m${i}@${prefix.toLowerCase().slice(0, -1)}.example`,
      );
    writeFileSync(path, `${lines.join('\n')}\n`);
    return path;
  };
  const badLines = (prefix: string, rows: number) =>
    Array.from({ length: rows }, (_, i) => i)
      .filter(bad)
      .map((i) => `${i + 2},${prefix}${i},birthdate,"must be a real date, YYYY-MM-DD"`);
  const goodRows = (rows: number) => rows - badLines('', rows).length;

  /** Starts the import as its own process and SIGKILLs it once a first batch has committed. */
  const importAndKill = async (path: string, args: string[] = []) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'accounts', 'import', '--file', path, ...args],
      {
        env: { ...process.env, ...cliEnv(app), ONEID_PROGRESS: undefined, LOG_LEVEL: 'silent' },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<NodeJS.Signals | number | null>((done) =>
      child.once('exit', (code, signal) => done(signal ?? code)),
    );
    let running = true;
    void exited.then(() => (running = false));
    const deadline = Date.now() + 120_000;
    for (;;) {
      const checkpoint = await app
        .knex('account_imports')
        .where({ file: resolve(path) })
        .first('byte_offset', 'finished_at');
      if (checkpoint && Number(checkpoint.byte_offset) > 0) break;
      if (!running || Date.now() > deadline)
        throw new Error(`the import ended (or never started) before it could be killed: ${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const checkpoint = await app
      .knex('account_imports')
      .where({ file: resolve(path) })
      .first();
    expect(checkpoint.finished_at, 'killed too late: the import had finished').toBeNull();
    return { checkpoint, committed: Number(checkpoint.imported) };
  };

  it(
    'resumes after the last committed batch: every row imported exactly once, every bad row reported once',
    { timeout: 240_000 },
    async () => {
      const rows = 50_000;
      const good = goodRows(rows);
      const path = generate('crash.csv', 'C-', rows);
      const { checkpoint, committed } = await importAndKill(path);
      // What committed is exactly what the checkpoint says (one transaction), and not everything.
      expect(await countWith('C-')).toBe(committed);
      expect(committed).toBeGreaterThan(0);
      expect(committed).toBeLessThan(good);
      const resumed = await cli(['accounts', 'import', '--file', path]);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(resumed.stdout).toContain(`(resumed at byte ${checkpoint.byte_offset})`);
      expect(resumed.stdout).toMatch(
        new RegExp(
          `row\\(s\\) read: ${good - committed} new, 0 updated, 0 unchanged, \\d+ rejected`,
        ),
      );
      expect(await countWith('C-')).toBe(good);
      expect(Number((await accountsWith('C-').countDistinct('legacy_id as n').first())!.n)).toBe(
        good,
      );
      // Rejected rows of batches that committed before the kill were reported then; the rest now.
      const reported = readFileSync(`${path}.rejected.csv`, 'utf8').trimEnd().split('\n');
      expect(reported).toEqual(['line,legacy_id,field,reason', ...badLines('C-', rows)]);
    },
  );

  it('starts over with --restart instead of resuming', { timeout: 180_000 }, async () => {
    const rows = 20_000;
    const good = goodRows(rows);
    const path = generate('restart.csv', 'S-', rows);
    const { committed } = await importAndKill(path);
    const restarted = await cli(['accounts', 'import', '--file', path, '--restart']);
    expect(restarted.code, restarted.stderr).toBe(0);
    expect(restarted.stdout).not.toContain('resumed');
    // The whole file read again: what committed before the kill is now unchanged.
    expect(restarted.stdout).toContain(
      `${rows} row(s) read: ${good - committed} new, 0 updated, ${committed} unchanged, ${rows - good} rejected`,
    );
    expect(await countWith('S-')).toBe(good);
    expect(readFileSync(`${path}.rejected.csv`, 'utf8').trimEnd().split('\n')).toEqual([
      'line,legacy_id,field,reason',
      ...badLines('S-', rows),
    ]);
  });
});
