// The CLI says who ran it: its audit records name `cli:<os user>@<host>` rather than a bare
// `cli`, the chain still verifies, and the console reads the actor as the server command run by
// that user on that host (the audit log, the administrators page's "granted by").
import { hostname, userInfo } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliActor } from '../../src/cli/cli-actor.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { runCli } from '../support/cli.ts';
import { enrolCitizen } from '../support/flows.ts';
import { consoleAdmin, type ConsoleAdmin } from '../admin/console-support.ts';

const escapeHtml = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

describe('cliActor', () => {
  const source = (over: Partial<Parameters<typeof cliActor>[0]> = {}) => ({
    user: () => 'ops',
    uid: () => 1001,
    host: () => 'db-1',
    ...over,
  });
  const fails = () => {
    throw new Error('ENOENT: no such file or directory, uv_os_get_passwd');
  };

  it('is cli:<os user>@<host>', () => {
    expect(cliActor(source())).toBe('cli:ops@db-1');
    expect(cliActor()).toBe(`cli:${userInfo().username}@${hostname()}`);
  });

  it('falls back to the uid when the user has no name, and to unknown when nothing is known', () => {
    expect(cliActor(source({ user: fails }))).toBe('cli:uid-1001@db-1');
    expect(cliActor(source({ user: fails, uid: () => undefined, host: fails }))).toBe(
      'cli:unknown@unknown',
    );
    expect(cliActor(source({ host: () => '' }))).toBe('cli:ops@unknown');
  });
});

describe('a CLI command as an operator runs it', () => {
  let app: TestApp;
  let platform: ConsoleAdmin;
  const actor = `cli:${userInfo().username}@${hostname()}`;
  const shown = escapeHtml(`서버 명령(CLI): ${userInfo().username}@${hostname()}`);

  beforeAll(async () => {
    app = await startTestApp();
    platform = await consoleAdmin(app, 'platform');
  });
  afterAll(() => app?.stop());

  const page = async (path: string) =>
    (await platform.browser.request(`${app.issuer}${path}`)).text();

  it(
    'records the OS user and host as the actor; the chain verifies; the console shows who',
    { timeout: 120_000 },
    async () => {
      const enrolled = await runCli(
        app,
        'citizens',
        'enroll',
        '--name',
        '김운영',
        '--birthdate',
        '1980-01-01',
      );
      expect(enrolled.code, enrolled.stderr).toBe(0);
      const accountId = /\(account ([0-9a-f-]{36})\)/.exec(enrolled.stdout)![1]!;
      const issued = await app
        .knex('audit_events')
        .where({ action: 'accounts.enrolment.issued', subject: `account:${accountId}` })
        .first('actor');
      expect(issued.actor).toBe(actor);

      // A role granted by the CLI: the administrators page says by whom.
      const { account } = await enrolCitizen(app, { name: '감사 담당' });
      const granted = await runCli(
        app,
        'admins',
        'grant',
        '--account',
        account.id,
        '--role',
        'auditor',
      );
      expect(granted.code, granted.stderr).toBe(0);
      expect(await app.knex('admin_roles').where({ account_id: account.id }).first()).toMatchObject(
        { granted_by: actor },
      );

      const verified = await runCli(app, 'audit', 'verify');
      expect(verified.code, verified.stderr).toBe(0);
      expect(verified.stdout).toMatch(/^Audit chain intact/);

      // The audit log, filtered by this actor: the record, read as the server command by whom.
      const log = await page(`/admin/audit?${new URLSearchParams({ actor })}`);
      expect(log).toContain(`title="${escapeHtml(actor)}">${shown}</a>`);
      expect(log).toContain(`admin.role.granted`);
      const admins = await page('/admin/admins');
      expect(admins).toContain(shown);
    },
  );
});
