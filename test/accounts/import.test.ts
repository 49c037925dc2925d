// Moving an existing portal's members in (accounts import): idempotent re-runs, resuming after a
// crash, a report of rejected rows, passwords refused, and what imported members do next.
import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createImportService, type RejectedRow } from '../../src/accounts/index.ts';
import { readCsvRecords } from '../../src/accounts/csv-records.ts';
import { systemClock } from '../../src/shared/index.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { runCli } from '../support/cli.ts';

let app: TestApp;
let dir: string;
let imports: ReturnType<typeof createImportService>;
let n = 0;

const csv = (lines: string[]) => {
  const file = join(dir, `members-${(n += 1)}.csv`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
};
const members = (count: number, prefix: string) =>
  Array.from(
    { length: count },
    (_, i) =>
      `${prefix}-${i},김민준${i},1980-01-${String((i % 28) + 1).padStart(2, '0')},m${i}@${prefix}.example,010-1234-${String(i).padStart(4, '0')}`,
  );
const countLegacy = async (prefix: string) =>
  Number(
    (await app.knex('accounts').where('legacy_id', 'like', `${prefix}-%`).count('* as n').first())!
      .n,
  );

beforeAll(async () => {
  app = await startTestApp();
  dir = mkdtempSync(join(tmpdir(), 'oneid-import-'));
  imports = createImportService({
    knex: app.knex,
    clock: systemClock,
    enrolmentTtlSeconds: 3600,
    issuer: app.issuer,
  });
});
afterAll(async () => {
  await app?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('accounts import', () => {
  // The token paths keep accounts in process (src/accounts/account-cache.ts); an import that
  // changes a profile (the CLI, another process) must reach every server's next ID token and
  // userinfo, not after the cache's age bound.
  it(
    'a profile changed by an import reaches the token paths at once',
    { timeout: 120_000 },
    async () => {
      const header = 'legacy_id,name,birthdate,email,phone';
      const line = 'kept-1,이서연,1990-02-03,kept@example.test,010-5555-0001';
      await imports.importFile({ file: csv([header, line]), actor: 'test' });
      const { id } = await app.knex('accounts').where({ legacy_id: 'kept-1' }).first('id');
      expect((await app.services.accounts.findForTokens(id))?.name).toBe('이서연');
      expect((await app.services.accounts.findForTokens(id))?.name).toBe('이서연');
      const changed = await runCli(
        app,
        'accounts',
        'import',
        '--file',
        csv([header, line.replace('이서연', '이서윤')]),
      );
      expect(changed.code, changed.stderr).toBe(0);
      expect((await app.services.accounts.findForTokens(id))?.name).toBe('이서윤');
    },
  );

  it('upserts by legacy_id: a re-run changes nothing, an edited row is updated', async () => {
    const file = csv(['legacy_id,name,birthdate,email,phone', ...members(12, 'idem')]);
    const first = await imports.importFile({ file, actor: 'test', batchSize: 5 });
    expect(first).toMatchObject({ rows: 12, inserted: 12, updated: 0, rejected: 0 });
    const again = await imports.importFile({ file, actor: 'test', batchSize: 5 });
    expect(again).toMatchObject({ rows: 12, inserted: 0, updated: 0, unchanged: 12 });
    expect(await countLegacy('idem')).toBe(12);
    const edited = csv([
      'legacy_id,name,birthdate,email,phone',
      ...members(12, 'idem').map((l, i) => (i === 3 ? l.replace('김민준3', '김민준삼') : l)),
    ]);
    expect(await imports.importFile({ file: edited, actor: 'test' })).toMatchObject({
      inserted: 0,
      updated: 1,
      unchanged: 11,
    });
    expect((await app.knex('accounts').where({ legacy_id: 'idem-3' }).first()).name).toBe(
      '김민준삼',
    );
  });

  it('resumes after a crash from the last committed batch, without duplicates', async () => {
    const file = csv([
      'legacy_id,name,birthdate',
      ...members(10, 'crash').map((l) => l.split(',').slice(0, 3).join(',')),
    ]);
    await expect(
      imports.importFile({
        file,
        actor: 'test',
        batchSize: 3,
        afterBatch: (batch) => {
          if (batch === 2) throw new Error('simulated crash');
        },
      }),
    ).rejects.toThrow('simulated crash');
    // Batches 1-2 committed; batch 3 was being written alongside and may have committed too.
    const committed = await countLegacy('crash');
    expect([6, 9]).toContain(committed);
    const resumed = await imports.importFile({ file, actor: 'test', batchSize: 3 });
    expect(resumed.resumedAt).toBeGreaterThan(0);
    expect(resumed).toMatchObject({ rows: 10 - committed, inserted: 10 - committed, rejected: 0 });
    expect(await countLegacy('crash')).toBe(10);
    // Finished: a later run reads the whole file again and changes nothing.
    expect(await imports.importFile({ file, actor: 'test', batchSize: 3 })).toMatchObject({
      rows: 10,
      inserted: 0,
      unchanged: 10,
      resumedAt: 0,
    });
  });

  it('reports each rejected row by line and field, and imports the others', async () => {
    const file = csv([
      'legacy_id,name,birthdate,email,phone',
      'rej-1,이서연,1990-02-03,a@rej.example,',
      'rej-2,박도윤,1990-02-30,,',
      'rej-3,"최하은, Jr.",1991-05-06,,010 5555 1234',
      'rej-4,,1992-01-01,,',
      'rej-5,정시우,1993-03-04,not-an-email,',
      ',강지우,1994-04-05,,',
      'rej-7,조주원,1995-05-06,,12ab',
      'rej-8,윤\u0000서,1996-06-07,,',
    ]);
    const rejected: RejectedRow[] = [];
    const report = await imports.importFile({
      file,
      actor: 'test',
      onRejected: (r) => void rejected.push(r),
    });
    expect(report).toMatchObject({ rows: 8, inserted: 2, rejected: 6 });
    expect(rejected.map((r) => [r.line, r.field])).toEqual([
      [3, 'birthdate'],
      [5, 'name'],
      [6, 'email'],
      [7, 'legacy_id'],
      [8, 'phone'],
      [9, 'name'],
    ]);
    expect(rejected[0]).toMatchObject({
      legacyId: 'rej-2',
      reason: 'must be a real date, YYYY-MM-DD',
    });
    expect(rejected[5]).toMatchObject({ legacyId: 'rej-8', reason: 'contains a NUL character' });
    expect((await app.knex('accounts').where({ legacy_id: 'rej-3' }).first()).phone_number).toBe(
      '01055551234',
    );
  });

  it('refuses a file with a password column before reading any row', async () => {
    const file = csv([
      'legacy_id,name,birthdate,password_hash',
      'pw-1,홍길동,1990-01-01,$2b$10$abcdefghijklmnopqrstuv',
    ]);
    await expect(imports.importFile({ file, actor: 'test' })).rejects.toMatchObject({
      code: 'ERR_IMPORT_PASSWORD_COLUMN',
      message: expect.stringMatching(/password_hash/),
    });
    const unknown = csv([
      'legacy_id,name,birthdate,resident_number',
      'x-1,홍길동,1990-01-01,900101-1234567',
    ]);
    await expect(imports.importFile({ file: unknown, actor: 'test' })).rejects.toMatchObject({
      code: 'ERR_IMPORT_COLUMNS',
      message: expect.stringMatching(/resident_number/),
    });
    expect(await countLegacy('pw')).toBe(0);
  });

  it('lets an imported member enrol a passkey (enrolment link) or map a certificate (subject key)', async () => {
    const file = csv([
      'legacy_id,name,birthdate,cert_subject_serial',
      'next-1,윤예준,1985-07-08,8507081234567',
    ]);
    await imports.importFile({
      file,
      actor: 'test',
      subjectKeyOf: (serial) => `subject-serial:test-anchor:${serial}`,
    });
    const { accountId, url } = await imports.enrolmentLinkForLegacyId('next-1', 'test');
    expect(
      (
        await app
          .knex('account_subject_keys')
          .where({ subject_key: 'subject-serial:test-anchor:8507081234567' })
          .first()
      ).account_id,
    ).toBe(accountId);
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('윤예준');
    await expect(imports.enrolmentLinkForLegacyId('nobody', 'test')).rejects.toMatchObject({
      code: 'ERR_ACCOUNT_UNKNOWN',
    });
  });

  it('reads quoted fields, CRLF line ends, a BOM and blank lines, reporting true line numbers', async () => {
    const file = join(dir, `members-${(n += 1)}.csv`);
    writeFileSync(
      file,
      '\ufeff"legacy_id",name,birthdate,email\r\n' +
        'q-1,"박, 서준",1980-01-01,\r\n' +
        '\r\n' +
        'q-2,"이 ""하나"" 둘",1981-02-03,q2@q.example\r\n' +
        'q-3,"여러\r\n줄",1982-03-04,\r\n' +
        'q-4,김도현,1990-13-01,\r\n' +
        'q-5,최지호,1991-02-29,\r\n' +
        'q-6,정유진,1992-02-29',
    );
    const rejected: RejectedRow[] = [];
    expect(
      await imports.importFile({
        file,
        actor: 'test',
        batchSize: 2,
        onRejected: (r) => void rejected.push(r),
      }),
    ).toMatchObject({ rows: 6, inserted: 4, rejected: 2 });
    expect(rejected.map((r) => [r.line, r.legacyId, r.field])).toEqual([
      [7, 'q-4', 'birthdate'],
      [8, 'q-5', 'birthdate'],
    ]);
    const names = await app
      .knex('accounts')
      .whereIn('legacy_id', ['q-1', 'q-2', 'q-3', 'q-6'])
      .orderBy('legacy_id')
      .pluck('name');
    expect(names).toEqual(['박, 서준', '이 "하나" 둘', '여러\r\n줄', '정유진']);
    const checkpoint = await app.knex('account_imports').where({ file }).first();
    expect([Number(checkpoint.byte_offset), Number(checkpoint.line)]).toEqual([
      readFileSync(file).length,
      9,
    ]);
  });

  it('reports each record where csv-parse would: fields, end line and end byte', async () => {
    const text = 'a,"b\nc",d\n\n"e""f",\r\ng,"h,i"';
    const file = join(dir, `records-${(n += 1)}.csv`);
    writeFileSync(file, text);
    const records = [];
    for await (const record of readCsvRecords(file, 0, 0)) records.push(record);
    expect(records).toEqual([
      { fields: ['a', 'b\nc', 'd'], line: 1, endLine: 2, end: 10 },
      { fields: ['e"f', ''], line: 4, endLine: 4, end: 20 },
      { fields: ['g', 'h,i'], line: 5, endLine: 5, end: Buffer.byteLength(text) },
    ]);
    const broken = join(dir, `records-${(n += 1)}.csv`);
    writeFileSync(broken, 'legacy_id,name,birthdate\nx-1,홍"길동,1990-01-01\n');
    await expect(imports.importFile({ file: broken, actor: 'test' })).rejects.toMatchObject({
      code: 'ERR_IMPORT_CSV',
      message: expect.stringMatching(/^line 2:/),
    });
  });

  it('takes the later row of a member listed twice, within a batch and across batches', async () => {
    const file = csv([
      'legacy_id,name,birthdate',
      'dup-1,첫째,1980-01-01',
      'dup-2,둘째,1980-01-02',
      'dup-1,셋째,1980-01-03',
      'dup-3,넷째,1980-01-04',
      'dup-2,다섯째,1980-01-05',
    ]);
    expect(await imports.importFile({ file, actor: 'test', batchSize: 3 })).toMatchObject({
      rows: 5,
      rejected: 0,
    });
    const rows = await app
      .knex('accounts')
      .where('legacy_id', 'like', 'dup-%')
      .orderBy('legacy_id')
      .select('legacy_id', 'name');
    expect(rows.map((r) => [r.legacy_id, r.name])).toEqual([
      ['dup-1', '셋째'],
      ['dup-2', '다섯째'],
      ['dup-3', '넷째'],
    ]);
  });

  it('resumes mid-file after records with line breaks inside quotes', async () => {
    const file = csv([
      'legacy_id,name,birthdate',
      'ml-1,"한\n줄",1980-01-01',
      'ml-2,둘,1980-01-02',
      'ml-3,"세\n\n줄",1980-01-03',
      'ml-4,넷,1980-01-04',
      'ml-5,다섯,1980-01-05',
    ]);
    await expect(
      imports.importFile({
        file,
        actor: 'test',
        batchSize: 1,
        afterBatch: (batch) => {
          if (batch === 3) throw new Error('simulated crash');
        },
      }),
    ).rejects.toThrow('simulated crash');
    const resumed = await imports.importFile({ file, actor: 'test', batchSize: 1 });
    expect(resumed.resumedAt).toBeGreaterThan(0);
    expect(await countLegacy('ml')).toBe(5);
    const checkpoint = await app.knex('account_imports').where({ file }).first();
    expect([
      Number(checkpoint.byte_offset),
      Number(checkpoint.line),
      checkpoint.finished_at,
    ]).toEqual([readFileSync(file).length, 9, expect.anything()]);
  });

  it('keeps certificate subject keys of unchanged rows on a re-run', async () => {
    const file = csv([
      'legacy_id,name,birthdate,cert_subject_serial',
      'key-1,송민호,1984-04-04,8404041234567',
      'key-2,배수지,1994-10-10,',
    ]);
    await imports.importFile({
      file,
      actor: 'test',
      subjectKeyOf: (serial) => `subject-serial:anchor-a:${serial}`,
    });
    expect(
      await imports.importFile({
        file,
        actor: 'test',
        subjectKeyOf: (serial) => `subject-serial:anchor-b:${serial}`,
      }),
    ).toMatchObject({ unchanged: 2 });
    const account = await app.knex('accounts').where({ legacy_id: 'key-1' }).first('id');
    const keys = await app
      .knex('account_subject_keys')
      .where('subject_key', 'like', 'subject-serial:anchor-_:8404041234567')
      .orderBy('subject_key')
      .pluck('account_id');
    expect(keys).toEqual([account.id, account.id]);
  });

  it('starts over on a file changed since its checkpoint', async () => {
    const file = csv(['legacy_id,name,birthdate', 'chg-1,한지민,1970-01-01']);
    await imports.importFile({ file, actor: 'test' });
    writeFileSync(
      file,
      'legacy_id,name,birthdate\nchg-1,한지민,1970-01-01\nchg-2,서하늘,1971-01-01\n',
    );
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    expect(await imports.importFile({ file, actor: 'test' })).toMatchObject({
      rows: 2,
      inserted: 1,
      unchanged: 1,
      resumedAt: 0,
    });
  });
});
