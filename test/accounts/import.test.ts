// Moving an existing portal's members in (accounts import): idempotent re-runs, resuming after a
// crash, a report of rejected rows, passwords refused, and what imported members do next.
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createImportService, type RejectedRow } from '../../src/accounts/index.ts';
import { systemClock } from '../../src/shared/index.ts';
import { startTestApp, type TestApp } from '../support/app.ts';

let app: TestApp;
let dir: string;
let imports: ReturnType<typeof createImportService>;
let n = 0;

const csv = (lines: string[]) => {
  const file = join(dir, `members-${(n += 1)}.csv`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
};
const members = (count: number, prefix: string) => Array.from({ length: count }, (_, i) => `${prefix}-${i},김민준${i},1980-01-${String((i % 28) + 1).padStart(2, '0')},m${i}@${prefix}.example,010-1234-${String(i).padStart(4, '0')}`);
const countLegacy = async (prefix: string) => Number((await app.knex('accounts').where('legacy_id', 'like', `${prefix}-%`).count('* as n').first())!.n);

beforeAll(async () => {
  app = await startTestApp();
  dir = mkdtempSync(join(tmpdir(), 'oneid-import-'));
  imports = createImportService({ knex: app.knex, clock: systemClock, enrolmentTtlSeconds: 3600, issuer: app.issuer });
});
afterAll(async () => {
  await app?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('accounts import', () => {
  it('upserts by legacy_id: a re-run changes nothing, an edited row is updated', async () => {
    const file = csv(['legacy_id,name,birthdate,email,phone', ...members(12, 'idem')]);
    const first = await imports.importFile({ file, actor: 'test', batchSize: 5 });
    expect(first).toMatchObject({ rows: 12, inserted: 12, updated: 0, rejected: 0 });
    const again = await imports.importFile({ file, actor: 'test', batchSize: 5 });
    expect(again).toMatchObject({ rows: 12, inserted: 0, updated: 0, unchanged: 12 });
    expect(await countLegacy('idem')).toBe(12);
    const edited = csv(['legacy_id,name,birthdate,email,phone', ...members(12, 'idem').map((l, i) => (i === 3 ? l.replace('김민준3', '김민준삼') : l))]);
    expect(await imports.importFile({ file: edited, actor: 'test' })).toMatchObject({ inserted: 0, updated: 1, unchanged: 11 });
    expect((await app.knex('accounts').where({ legacy_id: 'idem-3' }).first()).name).toBe('김민준삼');
  });

  it('resumes after a crash from the last committed batch, without duplicates', async () => {
    const file = csv(['legacy_id,name,birthdate', ...members(10, 'crash').map((l) => l.split(',').slice(0, 3).join(','))]);
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
    expect(await imports.importFile({ file, actor: 'test', batchSize: 3 })).toMatchObject({ rows: 10, inserted: 0, unchanged: 10, resumedAt: 0 });
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
    ]);
    const rejected: RejectedRow[] = [];
    const report = await imports.importFile({ file, actor: 'test', onRejected: (r) => void rejected.push(r) });
    expect(report).toMatchObject({ rows: 7, inserted: 2, rejected: 5 });
    expect(rejected.map((r) => [r.line, r.field])).toEqual([
      [3, 'birthdate'],
      [5, 'name'],
      [6, 'email'],
      [7, 'legacy_id'],
      [8, 'phone'],
    ]);
    expect(rejected[0]).toMatchObject({ legacyId: 'rej-2', reason: 'must be a real date, YYYY-MM-DD' });
    expect((await app.knex('accounts').where({ legacy_id: 'rej-3' }).first()).phone_number).toBe('01055551234');
  });

  it('refuses a file with a password column before reading any row', async () => {
    const file = csv(['legacy_id,name,birthdate,password_hash', 'pw-1,홍길동,1990-01-01,$2b$10$abcdefghijklmnopqrstuv']);
    await expect(imports.importFile({ file, actor: 'test' })).rejects.toMatchObject({ code: 'ERR_IMPORT_PASSWORD_COLUMN', message: expect.stringMatching(/password_hash/) });
    const unknown = csv(['legacy_id,name,birthdate,resident_number', 'x-1,홍길동,1990-01-01,900101-1234567']);
    await expect(imports.importFile({ file: unknown, actor: 'test' })).rejects.toMatchObject({ code: 'ERR_IMPORT_COLUMNS', message: expect.stringMatching(/resident_number/) });
    expect(await countLegacy('pw')).toBe(0);
  });

  it('lets an imported member enrol a passkey (enrolment link) or map a certificate (subject key)', async () => {
    const file = csv(['legacy_id,name,birthdate,cert_subject_serial', 'next-1,윤예준,1985-07-08,8507081234567']);
    await imports.importFile({ file, actor: 'test', subjectKeyOf: (serial) => `subject-serial:test-anchor:${serial}` });
    const { accountId, url } = await imports.enrolmentLinkForLegacyId('next-1', 'test');
    expect((await app.knex('account_subject_keys').where({ subject_key: 'subject-serial:test-anchor:8507081234567' }).first()).account_id).toBe(accountId);
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('윤예준');
    await expect(imports.enrolmentLinkForLegacyId('nobody', 'test')).rejects.toMatchObject({ code: 'ERR_ACCOUNT_UNKNOWN' });
  });

  it('starts over on a file changed since its checkpoint', async () => {
    const file = csv(['legacy_id,name,birthdate', 'chg-1,한지민,1970-01-01']);
    await imports.importFile({ file, actor: 'test' });
    writeFileSync(file, 'legacy_id,name,birthdate\nchg-1,한지민,1970-01-01\nchg-2,서하늘,1971-01-01\n');
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    expect(await imports.importFile({ file, actor: 'test' })).toMatchObject({ rows: 2, inserted: 1, unchanged: 1, resumedAt: 0 });
  });
});
