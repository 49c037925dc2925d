// Moving an existing portal's members in: a CSV of verified identity attributes, streamed
// (csv-parse), validated row by row, upserted by the portal's stable member id (legacy_id) in
// batches of `batchSize` rows. Each batch commits together with the file's checkpoint (the byte
// offset and line after its last row), so a crash loses at most the batch in flight and a re-run
// resumes after the last committed one; re-running a finished file changes nothing. Rows that
// fail validation are reported (line, field, reason) and skipped; the import goes on.
// Never passwords: a file with a password-like column is refused before any row is read.
import { randomBytes, randomUUID } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'csv-parse';
import type { Knex } from 'knex';
import { appendAudit } from '../audit/index.ts';
import { AppError, randomToken, sha256, type Clock } from '../shared/index.ts';
import { insertEnrolmentLink } from './enrolment-repo.ts';
import { advanceImportCheckpoint, findAccountIdByLegacyId, findImportCheckpoint, startImportCheckpoint, upsertImportedAccounts, type ImportedAccountRow } from './import-repo.ts';

/** The columns an import file may have; `legacy_id`, `name` and `birthdate` are required. */
export const IMPORT_COLUMNS = ['legacy_id', 'name', 'birthdate', 'email', 'phone', 'cert_subject_serial'] as const;
const REQUIRED = ['legacy_id', 'name', 'birthdate'];
/** Secrets One-ID never takes in, whatever they are called. */
const SECRET_COLUMN = /pass(word)?|pwd|passwd|secret|pin$|hash|salt|otp/i;

export type RejectedRow = { line: number; legacyId: string; field: string; reason: string };

export type ImportProgress = { bytes: number; totalBytes: number; rows: number; imported: number; rejected: number };

export type ImportReport = {
  file: string;
  /** Rows read in this run (a resumed run starts after the checkpoint). */
  rows: number;
  inserted: number;
  updated: number;
  unchanged: number;
  rejected: number;
  /** Where this run started: 0, or the checkpoint's byte offset when resuming. */
  resumedAt: number;
  seconds: number;
  rowsPerSecond: number;
};

export type ImportOptions = {
  file: string;
  actor: string;
  /** Each rejected row, as it is found (e.g. appended to a report file). */
  onRejected?: (row: RejectedRow) => void | Promise<void>;
  onProgress?: (progress: ImportProgress) => void;
  /** Maps a certificate subject serial to the certificate subject key (CERT_MAPPING_RULE subject-serial). */
  subjectKeyOf?: ((serial: string) => string) | undefined;
  /** Start over even when a checkpoint says part of the file is done. */
  restart?: boolean;
  batchSize?: number;
  /** Test hook: runs after each committed batch (a throw here simulates a crash between batches). */
  afterBatch?: (batch: number) => void | Promise<void>;
};

const LEGACY_ID = /^[\x21-\x7e]{1,128}$/;
const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}\.[^\s@]{1,63}$/;
const PHONE = /^\+?\d{8,15}$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

const realDate = (v: string) => DATE.test(v) && new Date(`${v}T00:00:00Z`).toISOString().startsWith(v) && v >= '1900-01-01';

/** One CSV record checked and normalised, or the first problem found (field + reason). */
export const checkImportRow = (record: Record<string, string | undefined>): { row: Omit<ImportedAccountRow, 'id' | 'webauthnUserId' | 'subjectKey'> & { certSerial: string | null } } | { field: string; reason: string } => {
  const value = (name: string) => (record[name] ?? '').trim();
  const legacyId = value('legacy_id');
  if (!legacyId) return { field: 'legacy_id', reason: 'is required' };
  if (!LEGACY_ID.test(legacyId)) return { field: 'legacy_id', reason: 'must be 1 to 128 printable ASCII characters without spaces' };
  const name = value('name');
  if (!name) return { field: 'name', reason: 'is required' };
  if (name.length > 200) return { field: 'name', reason: 'is longer than 200 characters' };
  const birthdate = value('birthdate');
  if (!birthdate) return { field: 'birthdate', reason: 'is required' };
  if (!realDate(birthdate)) return { field: 'birthdate', reason: 'must be a real date, YYYY-MM-DD' };
  const email = value('email');
  if (email && (email.length > 320 || !EMAIL.test(email))) return { field: 'email', reason: 'is not an email address' };
  const phone = value('phone').replace(/[\s-]/g, '');
  if (phone && !PHONE.test(phone)) return { field: 'phone', reason: 'must be a phone number (8 to 15 digits, optional +)' };
  const certSerial = value('cert_subject_serial');
  if (certSerial.length > 128) return { field: 'cert_subject_serial', reason: 'is longer than 128 characters' };
  return { row: { legacyId, name, birthdate, email: email || null, phoneNumber: phone || null, certSerial: certSerial || null } };
};

/** Refuses a header with a secret-like, unknown, duplicate or missing column, naming it. */
export const checkImportHeader = (columns: string[]): void => {
  const secret = columns.filter((c) => SECRET_COLUMN.test(c));
  if (secret.length) throw new AppError('ERR_IMPORT_PASSWORD_COLUMN', `column ${secret.join(', ')}: One-ID never imports passwords or other secrets; remove the column (members sign in with a passkey or a certificate)`, { details: { columns: secret } });
  const unknown = columns.filter((c) => !(IMPORT_COLUMNS as readonly string[]).includes(c));
  if (unknown.length) throw new AppError('ERR_IMPORT_COLUMNS', `column ${unknown.join(', ')}: not an import column (allowed: ${IMPORT_COLUMNS.join(', ')})`, { details: { columns: unknown } });
  const duplicate = columns.filter((c, i) => columns.indexOf(c) !== i);
  if (duplicate.length) throw new AppError('ERR_IMPORT_COLUMNS', `column ${duplicate.join(', ')}: appears twice`);
  const missing = REQUIRED.filter((c) => !columns.includes(c));
  if (missing.length) throw new AppError('ERR_IMPORT_COLUMNS', `column ${missing.join(', ')}: is required`, { details: { columns: missing } });
};

/** The header line, read on its own (a resumed import starts mid-file and needs the column names). */
const readHeader = async (file: string): Promise<string[]> => {
  const parser = createReadStream(file).pipe(parse({ bom: true, to_line: 1, trim: true, relax_column_count: true }));
  for await (const record of parser as AsyncIterable<string[]>) return record.map((c) => c.toLowerCase());
  throw new AppError('ERR_IMPORT_EMPTY', `${file} is empty: the first line must name the columns`);
};

export const createImportService = ({ knex, clock, enrolmentTtlSeconds, issuer }: { knex: Knex; clock: Clock; enrolmentTtlSeconds: number; issuer: string }) => ({
  async importFile(options: ImportOptions): Promise<ImportReport> {
    const file = resolve(options.file);
    let stat;
    try {
      stat = statSync(file);
    } catch {
      throw new AppError('ERR_USAGE', `cannot read ${options.file}`);
    }
    const columns = await readHeader(file);
    checkImportHeader(columns);
    // The same file (path, size, modification time) resumes; a changed file starts over.
    const id = sha256(`${file}\u0000${stat.size}\u0000${stat.mtimeMs}`);
    const checkpoint = options.restart ? undefined : await findImportCheckpoint(knex, id);
    const resume = checkpoint && !checkpoint.finishedAt && checkpoint.byteOffset > 0 ? checkpoint : undefined;
    if (!resume) await startImportCheckpoint(knex, { id, file, columns, actor: options.actor });
    const batchSize = options.batchSize ?? 5000;
    let byteOffset = resume?.byteOffset ?? 0;
    let line = resume?.line ?? 1;
    const imported = resume?.imported ?? 0;
    const rejectedTotal = resume?.rejected ?? 0;
    const started = process.hrtime.bigint();
    const report = { rows: 0, inserted: 0, updated: 0, unchanged: 0, rejected: 0 };

    const parser = createReadStream(file, { start: byteOffset }).pipe(
      // A resumed read starts after a row; the first run skips the header (read above).
      parse({ bom: !resume, columns, from_line: resume ? 1 : 2, info: true, skip_empty_lines: true, relax_column_count: true }),
    );
    // WebAuthn user handles (random, WebAuthn L2 14.6.1) cut from one draw of entropy per 4,096 rows.
    let entropy = Buffer.alloc(0);
    const userHandle = () => {
      if (entropy.length < 32) entropy = randomBytes(32 * 4096);
      const handle = entropy.subarray(0, 32).toString('base64url');
      entropy = entropy.subarray(32);
      return handle;
    };
    let batch = new Map<string, ImportedAccountRow>();
    let batchRejected: RejectedRow[] = [];
    let batchNumber = 0;
    // Up to two batches are written at once (each its own transaction, so PostgreSQL works on both
    // while the next is parsed). The checkpoint moves only in file order: a batch's transaction
    // advances it from the end of the batch before it (compare-and-set, waiting on that batch's
    // row lock), so a crash never leaves it past a batch that did not commit.
    const inflight: { done: Promise<void>; ids: Set<string> }[] = [];
    let flushedImported = imported;
    let flushedRejected = rejectedTotal;
    let flushedEnd = byteOffset;

    const commit = async (rows: ImportedAccountRow[], rejected: RejectedRow[], previous: Promise<void> | undefined, from: number, end: { byteOffset: number; line: number }, totals: { imported: number; rejected: number }, finished = false) => {
      const result = await knex.transaction(async (trx) => {
        const written = await upsertImportedAccounts(trx, rows);
        // The checkpoint moves in file order: after the previous batch has committed (or failed).
        await previous?.catch(() => undefined);
        if (!(await advanceImportCheckpoint(trx, id, { from, byteOffset: end.byteOffset, line: end.line, imported: totals.imported, rejected: totals.rejected, finished }))) {
          throw new AppError('ERR_IMPORT_INTERRUPTED', 'an earlier batch of this import did not commit; run the import again to resume');
        }
        if (finished) await appendAudit(trx, { action: 'accounts.imported', actor: options.actor, subject: `import:${id.slice(0, 16)}`, details: { file, rows: totals.imported, rejected: totals.rejected } });
        return written;
      });
      report.inserted += result.inserted;
      report.updated += result.updated;
      report.unchanged += rows.length - result.inserted - result.updated;
      for (const r of rejected) await options.onRejected?.(r);
      batchNumber += 1;
      await options.afterBatch?.(batchNumber);
    };

    const settle = async () => {
      while (inflight.length) await inflight.shift()!.done;
    };

    const flush = async (end: { byteOffset: number; line: number }, finished = false) => {
      const rows = [...batch.values()];
      const rejected = batchRejected;
      batch = new Map();
      batchRejected = [];
      // At most two in flight: wait for the older one (and surface its failure) first.
      if (inflight.length >= 2 || finished) await (finished ? settle() : inflight.shift()!.done);
      flushedImported += rows.length;
      flushedRejected += rejected.length;
      const done = commit(rows, rejected, inflight.at(-1)?.done, flushedEnd, end, { imported: flushedImported, rejected: flushedRejected }, finished);
      flushedEnd = end.byteOffset;
      done.catch(() => undefined);
      inflight.push({ done, ids: new Set(rows.map((r) => r.legacyId)) });
      if (finished) await settle();
    };

    try {
      for await (const { record, info } of parser as AsyncIterable<{ record: Record<string, string>; info: { bytes: number; lines: number } }>) {
        const firstLine = line + 1;
        line = resume ? resume.line + info.lines : info.lines;
        const end = (resume?.byteOffset ?? 0) + info.bytes;
        report.rows += 1;
        const checked = checkImportRow(record);
        if ('field' in checked) {
          batchRejected.push({ line: firstLine, legacyId: (record.legacy_id ?? '').trim().slice(0, 128), field: checked.field, reason: checked.reason });
          report.rejected += 1;
        } else {
          const { certSerial, ...row } = checked.row;
          // The same member in a batch still being written: let it commit first (no lock waits between batches).
          if (inflight.some((f) => f.ids.has(row.legacyId))) await settle();
          // A member listed twice in one batch: the later row wins, as it would across batches.
          batch.delete(row.legacyId);
          batch.set(row.legacyId, { ...row, id: randomUUID(), webauthnUserId: userHandle(), subjectKey: certSerial && options.subjectKeyOf ? options.subjectKeyOf(certSerial) : null });
        }
        byteOffset = end;
        if (batch.size + batchRejected.length >= batchSize) await flush({ byteOffset, line });
        if (report.rows % 1000 === 0) options.onProgress?.({ bytes: byteOffset, totalBytes: stat.size, rows: report.rows, imported: flushedImported + batch.size, rejected: flushedRejected + batchRejected.length });
      }
      await flush({ byteOffset, line }, true);
      options.onProgress?.({ bytes: byteOffset, totalBytes: stat.size, rows: report.rows, imported: flushedImported, rejected: flushedRejected });
    } finally {
      parser.destroy();
      // Nothing keeps writing after this returns (or throws).
      await Promise.allSettled(inflight.map((f) => f.done));
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return { file, ...report, resumedAt: resume?.byteOffset ?? 0, seconds, rowsPerSecond: Math.round(report.rows / (seconds || 1e-9)) };
  },

  /** A one-time enrolment link (to create a first passkey) for an imported member, by legacy id. */
  async enrolmentLinkForLegacyId(legacyId: string, issuedBy: string): Promise<{ accountId: string; url: string; expiresAt: Date }> {
    const accountId = await findAccountIdByLegacyId(knex, legacyId);
    if (!accountId) throw new AppError('ERR_ACCOUNT_UNKNOWN', `legacy_id: no imported account has ${legacyId}`, { status: 404 });
    const token = randomToken();
    const expiresAt = new Date(clock.now().getTime() + enrolmentTtlSeconds * 1000);
    await knex.transaction(async (trx) => {
      await insertEnrolmentLink(trx, { id: randomUUID(), accountId, tokenHash: sha256(token), expiresAt, issuedBy });
      await appendAudit(trx, { action: 'accounts.enrolment.issued', actor: issuedBy, subject: `account:${accountId}`, details: { expiresAt: expiresAt.toISOString(), legacyId } });
    });
    return { accountId, url: `${issuer}/enrol/${token}`, expiresAt };
  },
});

export type ImportService = ReturnType<typeof createImportService>;
