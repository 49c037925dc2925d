// Bulk onboarding and the audit trail, on a database of this file's own (the manifest export and
// the chain check see only what this file did, and tampering cannot disturb other files):
// manifest import is idempotent and its dry run changes nothing; rejected rows are named with
// their field; export round-trips; audit search and export; `audit verify` names the first
// tampered record, and with a saved checkpoint finds deleted newest records.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPrincipal } from '../../src/admin/index.ts';
import type { CliContext } from '../../src/cli/cli-context.ts';
import { COMMANDS } from '../../src/cli/commands.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { cliOperator, runCli } from '../support/cli.ts';
import { createAdmin, unique, type Admin } from './support.ts';

let app: TestApp;
let platform: Admin;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'oneid-manifest-'));
  app = await startTestApp(); // each test app has a database of its own
  platform = await createAdmin(app, 'platform');
});
afterAll(async () => {
  await app?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The CLI's commands on this app's services (the real CLI process is run where it matters). */
const command = (name: string, options: Record<string, string | boolean>) =>
  COMMANDS[name]!.run(
    {
      admin: app.services.admin,
      audit: app.services.audit,
      actor: cliOperator,
      principal: cliPrincipal(cliOperator),
    } as unknown as CliContext,
    options,
  );

const cli = (...args: string[]) => runCli(app, ...args);

const purpose = { ko: '신청인 확인', en: 'Identifying the applicant' };
const AGENCY = '행정안전부';
const manifest = (
  systems = [
    {
      client_id: 'mois-portal',
      agency: AGENCY,
      client_name: '정부24 민원',
      redirect_uris: ['https://portal.mois.go.kr/cb'],
      token_endpoint_auth_method: 'client_secret_basic',
      allowed_claims: [{ claim: 'name', purpose, required: true, retention_days: 365 }],
    },
    {
      client_id: 'mois-batch',
      agency: AGENCY,
      client_name: '일괄 처리',
      redirect_uris: ['https://batch.mois.go.kr/cb'],
      token_endpoint_auth_method: 'private_key_jwt',
      jwks_uri: 'https://batch.mois.go.kr/jwks.json',
      grant_types: ['authorization_code'],
    },
    {
      client_id: 'mohw-welfare',
      agency: '보건복지부',
      client_name: '복지로',
      redirect_uris: ['https://welfare.mohw.go.kr/cb'],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'],
      status: 'draft',
    },
  ] as Record<string, unknown>[],
) => ({
  version: 1,
  agencies: [
    { name: AGENCY, name_en: 'Ministry of the Interior and Safety', contact: 'it@mois.go.kr' },
    { name: '보건복지부', name_en: 'Ministry of Health and Welfare' },
  ],
  systems,
});

const file = (name: string, content: string) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};

const snapshot = async () =>
  JSON.stringify(
    await app
      .knex('clients')
      .whereIn('client_id', ['mois-portal', 'mois-batch', 'mohw-welfare'])
      .orderBy('client_id')
      .select('client_id', 'metadata', 'status', 'updated_at'),
  );

describe('manifest import and export', () => {
  it('plans in a dry run without changing anything, applies, and changes nothing on a re-run', async () => {
    const path = file('manifest.json', JSON.stringify(manifest()));
    const dry = await command('manifest import', { file: path, 'dry-run': true });
    expect(dry).toContain('would create agency 행정안전부');
    expect(dry).toContain('would create system mois-portal');
    expect(dry).toContain(
      'Dry run: 5 would create, 0 would update, 0 unchanged; nothing was changed.',
    );
    expect(
      await app.knex('clients').whereIn('client_id', ['mois-portal', 'mois-batch', 'mohw-welfare']),
    ).toEqual([]);
    expect(await app.knex('agencies').where({ name: AGENCY })).toEqual([]);
    expect(await app.knex('audit_events').where({ action: 'manifest.imported' })).toEqual([]);

    const applied = await command('manifest import', { file: path });
    expect(applied).toMatch(/created system mois-portal/);
    expect(applied).toMatch(/client_secret for mois-portal: [\w-]{43}/);
    expect(applied).not.toMatch(/client_secret for mois-batch/);
    expect(await app.services.clients.find('mohw-welfare')).toMatchObject({
      status: 'draft',
      registeredVia: 'manifest',
    });
    expect(await app.services.clients.allowances('mois-portal')).toEqual([
      { claim: 'name', purpose, required: true, retentionDays: 365 },
    ]);
    const after = await snapshot();
    const auditCount = (await app.knex('audit_events').count({ n: '*' }).first())!.n;

    const again = await command('manifest import', { file: path });
    expect(again).toContain('Done: 0 created, 0 updated, 5 unchanged.');
    expect(await snapshot()).toBe(after);
    // Only the import's own summary record is new.
    expect(Number((await app.knex('audit_events').count({ n: '*' }).first())!.n)).toBe(
      Number(auditCount) + 1,
    );

    // A change is found and applied, once.
    const changed = manifest();
    (changed.systems[0]!.redirect_uris as string[]).push('https://portal.mois.go.kr/cb2');
    changed.systems[1]!.status = 'disabled';
    const changedPath = file('changed.json', JSON.stringify(changed));
    expect(await command('manifest import', { file: changedPath, 'dry-run': true })).toMatch(
      /would update system mois-portal \(metadata\)[\s\S]*would update system mois-batch \(status\)/,
    );
    expect(await command('manifest import', { file: changedPath })).toContain(
      'Done: 0 created, 2 updated, 3 unchanged.',
    );
    expect(await command('manifest import', { file: changedPath })).toContain(
      'Done: 0 created, 0 updated, 5 unchanged.',
    );
    expect((await app.services.clients.find('mois-batch'))?.status).toBe('disabled');
  });

  it('names each rejected row and its field, and applies nothing', async () => {
    const bad = manifest([
      {
        client_id: 'mois-new',
        agency: AGENCY,
        client_name: '새 시스템',
        redirect_uris: ['https://new.mois.go.kr/cb'],
      },
      {
        client_id: 'mois-bad',
        agency: AGENCY,
        client_name: '잘못된 시스템',
        redirect_uris: ['http://bad.mois.go.kr/cb'],
      },
      { agency: AGENCY, client_name: 'no id', redirect_uris: ['https://x.mois.go.kr/cb'] },
      {
        client_id: 'mois-grant',
        agency: AGENCY,
        client_name: 'grant',
        redirect_uris: ['https://g.mois.go.kr/cb'],
        grant_types: ['password'],
      },
      {
        client_id: 'unknown-agency',
        agency: '없는 기관',
        client_name: 'x',
        redirect_uris: ['https://u.example.go.kr/cb'],
      },
    ]);
    await expect(
      command('manifest import', { file: file('bad.json', JSON.stringify(bad)) }),
    ).rejects.toThrow(
      /rejected systems\[1\] \(mois-bad\): redirect_uris\.0: must use https[\s\S]*rejected systems\[2\]: client_id: is required[\s\S]*rejected systems\[3\] \(mois-grant\): grant_types\.0: [\s\S]*rejected systems\[4\] \(unknown-agency\): agency: [\s\S]*4 row problem\(s\); nothing was applied\./,
    );
    expect(await app.services.clients.find('mois-new')).toBeUndefined();
    // The same through the API, one problem per line with its field.
    const res = await platform.api('POST', '/manifest?dry_run=true', JSON.stringify(bad), {
      'content-type': 'application/json',
    });
    expect(res.status).toBe(422);
    expect(
      res.body.rejected.map((r: { where: string; field: string }) => `${r.where} ${r.field}`),
    ).toEqual([
      'systems[1] redirect_uris.0',
      'systems[2] client_id',
      'systems[3] grant_types.0',
      'systems[4] agency',
    ]);
  });

  it('names an agency listed twice by its name field', async () => {
    const twice = manifest([]);
    twice.agencies.push({ name: '보건복지부', name_en: 'Ministry of Health and Welfare' });
    const res = await platform.api('POST', '/manifest?dry_run=true', JSON.stringify(twice), {
      'content-type': 'application/json',
    });
    expect(res.status).toBe(422);
    expect(res.body.rejected).toEqual([
      { where: 'agencies[2]', field: 'name', message: '보건복지부 is listed twice' },
    ]);
  });

  it('exports the import format (JSON and CSV) and a re-import of the export changes nothing', async () => {
    const json = await platform.api('GET', '/manifest?format=json');
    expect(json.status).toBe(200);
    expect(json.body.systems.map((s: { client_id: string }) => s.client_id)).toEqual(
      expect.arrayContaining(['mois-portal', 'mois-batch', 'mohw-welfare']),
    );
    expect(JSON.stringify(json.body)).not.toMatch(/client_secret"|one-id-account|one-id-admin/);
    const csv = await platform.api('GET', '/manifest?format=csv');
    expect(csv.type).toMatch(/^text\/csv/);
    expect(String(csv.body).split('\r\n')[0]).toMatch(/^kind,name,name_en,contact,client_id,/);
    for (const [body, type] of [
      [JSON.stringify(json.body), 'application/json'],
      [String(csv.body), 'text/csv'],
    ] as const) {
      const res = await platform.api('POST', '/manifest?dry_run=true', body, {
        'content-type': type,
      });
      expect(res.status, type).toBe(200);
      expect(res.body.rejected).toEqual([]);
      expect(
        res.body.changes.filter((c: { action: string }) => c.action !== 'unchanged'),
        type,
      ).toEqual([]);
    }
    // The CLI exports the same.
    expect(JSON.parse(await command('manifest export', {}))).toEqual(json.body);
  });
});

describe('audit trail', () => {
  it('is searchable by action, actor, subject and time, and exports as JSON lines and CSV', async () => {
    const from = new Date(Date.now() - 3600_000).toISOString();
    const byAction = await platform.api(
      'GET',
      `/audit?action=clients.*&from=${from}&subject=client:mois-portal`,
    );
    expect(byAction.body.items.map((r: { action: string }) => r.action)).toEqual(
      expect.arrayContaining(['clients.created', 'clients.updated']),
    );
    expect(
      byAction.body.items.every((r: { subject: string }) => r.subject === 'client:mois-portal'),
    ).toBe(true);
    const byActor = await platform.api(
      'GET',
      `/audit?actor=${encodeURIComponent(cliOperator)}&action=manifest.imported`,
    );
    expect(byActor.body.items.length).toBe(4); // the first test's applied imports, by the CLI
    // A prefix ending in `*` finds every CLI operator's records (and only theirs), as for actions.
    const anyCli = await platform.api(
      'GET',
      `/audit?actor=${encodeURIComponent('cli*')}&limit=200`,
    );
    expect(anyCli.status).toBe(200);
    expect(anyCli.body.items.length).toBeGreaterThanOrEqual(4);
    expect(
      anyCli.body.items.every(
        (r: { actor: string }) => r.actor === 'cli' || r.actor.startsWith('cli:'),
      ),
    ).toBe(true);
    expect(
      (await platform.api('GET', `/audit?actor=${encodeURIComponent('cl%*')}`)).body.items,
    ).toEqual([]); // `%` is taken literally
    expect(
      (
        await platform.api(
          'GET',
          `/audit?actor=${encodeURIComponent(`admin:${platform.account.id}`)}&action=manifest.imported`,
        )
      ).body.items,
    ).toEqual([]); // API dry runs record nothing
    expect((await platform.api('GET', `/audit?to=${encodeURIComponent(from)}`)).body.items).toEqual(
      [],
    );
    expect((await platform.api('GET', '/audit?from=yesterday')).body.field).toBe('from');

    const jsonl = await fetch(
      `${app.issuer}/admin/api/audit/export?format=jsonl&subject=client:mois-portal`,
      { headers: { authorization: `Bearer ${platform.token}` } },
    );
    expect(jsonl.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    const lines = (await jsonl.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((r) => r.action)).toEqual(
      byAction.body.items.map((r: { action: string }) => r.action),
    );
    expect(lines[0]).toMatchObject({
      id: expect.any(String),
      occurred_at: expect.any(String),
      hash: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    const csv = await fetch(
      `${app.issuer}/admin/api/audit/export?format=csv&subject=client:mois-portal`,
      { headers: { authorization: `Bearer ${platform.token}` } },
    );
    const rows = (await csv.text()).trim().split('\r\n');
    expect(rows[0]).toBe('id,occurred_at,action,actor,subject,ip,details,prev_hash,hash');
    expect(rows.length).toBe(lines.length + 1);
  });

  it('fails `audit verify` at the first record edited in the database', async () => {
    expect((await cli('audit', 'verify')).stdout).toMatch(/^Audit chain intact: \d+ record\(s\)\./);
    const target = await app
      .knex('audit_events')
      .where({ action: 'clients.created', subject: 'client:mois-batch' })
      .first();
    const later = await app.knex('audit_events').where('id', '>', target.id).orderBy('id').first();
    await app.knex('audit_events').where({ id: later.id }).update({ actor: 'someone-else' });
    await app
      .knex('audit_events')
      .where({ id: target.id })
      .update({ details: JSON.stringify({ ...target.details, agency: '다른 기관' }) });
    try {
      const result = await cli('audit', 'verify');
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`Audit chain broken at record ${target.id} `);
      expect(await app.services.audit.verify()).toMatchObject({
        ok: false,
        brokenAt: String(target.id),
      });
    } finally {
      await app
        .knex('audit_events')
        .where({ id: target.id })
        .update({ details: JSON.stringify(target.details) });
      await app.knex('audit_events').where({ id: later.id }).update({ actor: later.actor });
    }
    expect(await command('audit verify', {})).toMatch(/^Audit chain intact/);
  });

  it('detects deleted newest records against a checkpoint kept outside the database', async () => {
    const saved = join(dir, 'checkpoint.json');
    expect(await command('audit verify', { 'save-checkpoint': saved })).toContain(
      `Checkpoint written to ${saved}`,
    );
    const checkpoint = JSON.parse(readFileSync(saved, 'utf8')) as {
      count: number;
      lanes: Record<string, { id: string; hash: string }>;
    };
    expect(Object.keys(checkpoint.lanes).length).toBeGreaterThan(0);
    // Later records do not disturb it.
    await app.services.audit.record({
      action: 'test.after-checkpoint',
      actor: 'cli',
      subject: 'test:checkpoint',
    });
    expect(await command('audit verify', { checkpoint: saved })).toMatch(
      /^Audit chain intact: \d+ record\(s\)\.\nEvery lane head of the checkpoint/,
    );

    // Deleting a lane's newest records leaves an intact-looking chain; the checkpoint still sees it.
    const head = Object.values(checkpoint.lanes).sort((a, b) => Number(b.id) - Number(a.id))[0]!;
    const row = await app.knex('audit_events').where({ id: head.id }).first();
    const laterInLane = await app
      .knex('audit_events')
      .where({ chain: row.chain })
      .andWhere('id', '>', head.id)
      .orderBy('id');
    await app
      .knex('audit_events')
      .where({ chain: row.chain })
      .andWhere('id', '>=', head.id)
      .delete();
    try {
      expect(await command('audit verify', {})).toMatch(/^Audit chain intact/);
      const result = await cli('audit', 'verify', '--checkpoint', saved);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(
        `Audit trail incomplete: record ${head.id}, a lane head in the checkpoint, is missing`,
      );
    } finally {
      // Put the records back in order: the lane's head row first goes back to what they extend
      // (the database refuses a record that does not extend its lane's head).
      await app.knex('audit_heads').where({ chain: row.chain }).update({ hash: row.prev_hash });
      await app.knex('audit_events').insert([row, ...laterInLane]);
    }
    expect(await command('audit verify', { checkpoint: saved })).toMatch(/^Audit chain intact/);
    await expect(
      command('audit verify', { checkpoint: file('not-a-checkpoint.json', '{"lanes":{}}') }),
    ).rejects.toThrow(/is not an audit checkpoint/);
  });

  it("runs as the operator's CLI process: admins grant, manifest import --dry-run", async () => {
    const { account } = await app.services.accounts.enrolCitizen(
      { name: '감사 담당', birthdate: '1980-02-02', email: `${unique('auditor')}@example.go.kr` },
      'test',
    );
    const granted = await cli(
      'admins',
      'grant',
      '--account',
      account.id,
      '--role',
      'auditor',
      '--agency',
      AGENCY,
    );
    expect(granted.stderr).toBe('');
    expect(granted.stdout).toContain(`Account ${account.id} is an auditor of ${AGENCY}.`);
    expect(await command('admins list', {})).toMatch(
      new RegExp(`${account.id}\\s+auditor\\s+${AGENCY}`),
    );
    const audit = await platform.api(
      'GET',
      `/audit?action=admin.role.granted&subject=account:${account.id}`,
    );
    expect(audit.body.items[0]).toMatchObject({
      actor: cliOperator,
      details: { role: 'auditor', agency: AGENCY, via: 'cli' },
    });
    const dry = await cli(
      'manifest',
      'import',
      '--file',
      file('again.json', JSON.stringify(manifest())),
      '--dry-run',
    );
    expect(dry.stderr).toBe('');
    expect(dry.stdout).toMatch(/would update system mois-portal \(metadata\)/); // the first test changed it since
    expect(dry.stdout).toMatch(
      /Dry run: 0 would create, 2 would update, 3 unchanged; nothing was changed\./,
    );
  });
});
