// Moving an existing portal's members in: a CSV of verified identity attributes, streamed
// (csv-records.ts), validated row by row, upserted by the
// portal's stable member id (legacy_id) in batches of `batchSize` rows (COPY into a staging table
// on PostgreSQL, array parameters on the embedded PGlite). Each batch commits together with the
// file's checkpoint (the byte offset and line after its last row), so a crash loses at most the
// batch in flight and a re-run resumes after the last committed one; re-running a finished file
// changes nothing. Rows that fail validation are reported (line, field, reason) and skipped; the
// import goes on.
// Never passwords: a file with a password-like column is refused before any row is read.
import { randomBytes, randomUUID } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'csv-parse';
import type { Knex } from 'knex';
import { appendAudit } from '../audit/index.ts';
import { AppError, randomToken, sha256, type Clock } from '../shared/index.ts';
import type { ChangeFeed } from '../store/index.ts';
import { ACCOUNTS_TOPIC } from './account-cache.ts';
import { insertEnrolmentLink } from './enrolment-repo.ts';
import { readCsvRecords } from './csv-records.ts';
import {
  advanceImportCheckpoint,
  copyImportedAccounts,
  findAccountIdByLegacyId,
  findImportCheckpoint,
  startImportCheckpoint,
  supportsCopyIn,
  upsertImportedAccounts,
  type ImportedAccountRow,
} from './import-repo.ts';

/** The columns an import file may have; `legacy_id`, `name` and `birthdate` are required. */
export const IMPORT_COLUMNS = [
  'legacy_id',
  'name',
  'birthdate',
  'email',
  'phone',
  'cert_subject_serial',
] as const;
const REQUIRED = ['legacy_id', 'name', 'birthdate'];
/** Secrets One-ID never takes in, whatever they are called. */
const SECRET_COLUMN = /pass(word)?|pwd|passwd|secret|pin$|hash|salt|otp/i;

export type RejectedRow = { line: number; legacyId: string; field: string; reason: string };

export type ImportProgress = {
  bytes: number;
  totalBytes: number;
  rows: number;
  imported: number;
  rejected: number;
};

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
  /**
   * Each rejected row, as it is found, before its batch commits (e.g. appended to a report file):
   * a crash never loses one; rows past the checkpoint (`onStart`'s line) are found again on resume.
   */
  onRejected?: (row: RejectedRow) => void | Promise<void>;
  onProgress?: (progress: ImportProgress) => void;
  /** Once the run knows where it starts: byte 0, or the checkpoint's byte offset and last line when it resumes. */
  onStart?: (start: { resumedAt: number; line: number }) => void | Promise<void>;
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
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** `YYYY-MM-DD`, a real calendar date (no 1990-02-30 or 1990-13-01), not before 1900-01-01. */
const isRealDate = (v: string) => {
  const m = DATE.exec(v);
  if (!m || v < '1900-01-01') return false;
  const date = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return date.getUTCMonth() === Number(m[2]) - 1 && date.getUTCDate() === Number(m[3]);
};

/** A phone number without spaces and dashes (optional +, then 8 to 15 digits); '' for none; undefined when invalid. */
const normalisePhone = (v: string): string | undefined => {
  const phone = v.replace(/[\s-]/g, '');
  if (!phone) return '';
  return PHONE.test(phone) ? phone : undefined;
};

type Problem = { field: string; reason: string };
type CheckedRow = Omit<ImportedAccountRow, 'id' | 'webauthnUserId' | 'subjectKey'> & {
  certSerial: string | null;
};

const problem = (field: string, reason: string): Problem => Object.freeze({ field, reason });
const PROBLEMS = {
  legacyIdRequired: problem('legacy_id', 'is required'),
  legacyId: problem('legacy_id', 'must be 1 to 128 printable ASCII characters without spaces'),
  nameRequired: problem('name', 'is required'),
  name: problem('name', 'is longer than 200 characters'),
  birthdateRequired: problem('birthdate', 'is required'),
  birthdate: problem('birthdate', 'must be a real date, YYYY-MM-DD'),
  email: problem('email', 'is not an email address'),
  phone: problem('phone', 'must be a phone number (8 to 15 digits, optional +)'),
  certSerial: problem('cert_subject_serial', 'is longer than 128 characters'),
};

/** The fields of one record checked and normalised (trimmed), or the first problem found. */
const checkMember = (
  legacyIdRaw = '',
  nameRaw = '',
  birthdateRaw = '',
  emailRaw = '',
  phoneRaw = '',
  certSerialRaw = '',
): CheckedRow | Problem => {
  const legacyId = legacyIdRaw.trim();
  if (!legacyId) return PROBLEMS.legacyIdRequired;
  if (!LEGACY_ID.test(legacyId)) return PROBLEMS.legacyId;
  const name = nameRaw.trim();
  if (!name) return PROBLEMS.nameRequired;
  // PostgreSQL text cannot hold U+0000 (legacy_id and birthdate are checked by their patterns).
  for (const [field, value] of [
    ['name', name],
    ['email', emailRaw],
    ['phone', phoneRaw],
    ['cert_subject_serial', certSerialRaw],
  ] as const) {
    if (value.includes('\u0000')) return problem(field, 'contains a NUL character');
  }
  if (name.length > 200) return PROBLEMS.name;
  const birthdate = birthdateRaw.trim();
  if (!birthdate) return PROBLEMS.birthdateRequired;
  if (!isRealDate(birthdate)) return PROBLEMS.birthdate;
  const email = emailRaw.trim();
  if (email && (email.length > 320 || !EMAIL.test(email))) return PROBLEMS.email;
  const phone = normalisePhone(phoneRaw.trim());
  if (phone === undefined) return PROBLEMS.phone;
  const certSerial = certSerialRaw.trim();
  if (certSerial.length > 128) return PROBLEMS.certSerial;
  return {
    legacyId,
    name,
    birthdate,
    email: email || null,
    phoneNumber: phone || null,
    certSerial: certSerial || null,
  };
};

/** One CSV record checked and normalised, or the first problem found (field + reason). */
export const checkImportRow = (
  record: Record<string, string | undefined>,
): { row: CheckedRow } | Problem => {
  const checked = checkMember(
    record.legacy_id,
    record.name,
    record.birthdate,
    record.email,
    record.phone,
    record.cert_subject_serial,
  );
  return 'field' in checked ? { ...checked } : { row: checked };
};

/** Refuses a header with a secret-like, unknown, duplicate or missing column, naming it. */
export const checkImportHeader = (columns: string[]): void => {
  const secret = columns.filter((c) => SECRET_COLUMN.test(c));
  if (secret.length)
    throw new AppError(
      'ERR_IMPORT_PASSWORD_COLUMN',
      `column ${secret.join(', ')}: One-ID never imports passwords or other secrets; remove the column (members sign in with a passkey or a certificate)`,
      { details: { columns: secret } },
    );
  const unknown = columns.filter((c) => !(IMPORT_COLUMNS as readonly string[]).includes(c));
  if (unknown.length)
    throw new AppError(
      'ERR_IMPORT_COLUMNS',
      `column ${unknown.join(', ')}: not an import column (allowed: ${IMPORT_COLUMNS.join(', ')})`,
      { details: { columns: unknown } },
    );
  const duplicate = columns.filter((c, i) => columns.indexOf(c) !== i);
  if (duplicate.length)
    throw new AppError('ERR_IMPORT_COLUMNS', `column ${duplicate.join(', ')}: appears twice`);
  const missing = REQUIRED.filter((c) => !columns.includes(c));
  if (missing.length)
    throw new AppError('ERR_IMPORT_COLUMNS', `column ${missing.join(', ')}: is required`, {
      details: { columns: missing },
    });
};

/** The header line, read on its own with csv-parse (a resumed import starts mid-file and needs the column names). */
const readHeader = async (file: string): Promise<string[]> => {
  const parser = createReadStream(file).pipe(
    parse({ bom: true, to_line: 1, trim: true, relax_column_count: true }),
  );
  for await (const record of parser as AsyncIterable<string[]>)
    return record.map((c) => c.toLowerCase());
  throw new AppError('ERR_IMPORT_EMPTY', `${file} is empty: the first line must name the columns`);
};

// The records of the file from byte `start` on, RFC 4180: ',' between fields, '"' around a field
// that holds ',', '"' (doubled) or a line break, records ended by LF, CRLF or CR; empty lines are
// skipped. Read as bytes so that each record's end offset (the checkpoint) costs nothing; a
// field is decoded from UTF-8 once. A quote out of place, or one left open, fails the import
// with its line, as csv-parse did.
export const createImportService = ({
  knex,
  clock,
  enrolmentTtlSeconds,
  issuer,
  feed,
}: {
  knex: Knex;
  clock: Clock;
  enrolmentTtlSeconds: number;
  issuer: string;
  /** Told after each batch that changed an account: the servers drop their kept accounts. */
  feed?: ChangeFeed | undefined;
}) => ({
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
    const resume =
      checkpoint && !checkpoint.finishedAt && checkpoint.byteOffset > 0 ? checkpoint : undefined;
    if (!resume) await startImportCheckpoint(knex, { id, file, columns, actor: options.actor });
    await options.onStart?.({ resumedAt: resume?.byteOffset ?? 0, line: resume?.line ?? 0 });
    const batchSize = options.batchSize ?? 5000;
    let byteOffset = resume?.byteOffset ?? 0;
    let line = resume?.line ?? 1;
    const imported = resume?.imported ?? 0;
    const rejectedTotal = resume?.rejected ?? 0;
    const started = process.hrtime.bigint();
    const report = { rows: 0, inserted: 0, updated: 0, unchanged: 0, rejected: 0 };

    // COPY into a staging table on PostgreSQL; the embedded PGlite takes no COPY streams.
    const upsert = (await supportsCopyIn(knex)) ? copyImportedAccounts : upsertImportedAccounts;
    // Where each import column is in a record (-1: not in this file).
    const [legacyIdAt, nameAt, birthdateAt, emailAt, phoneAt, certSerialAt] = IMPORT_COLUMNS.map(
      (c) => columns.indexOf(c),
    ) as [number, number, number, number, number, number];
    const field = (fields: string[], at: number) =>
      at >= 0 && at < fields.length ? fields[at] : undefined;
    // WebAuthn user handles (random, WebAuthn L2 14.6.1) cut from one draw of entropy per 4,096 rows.
    let entropy = randomBytes(32 * 4096);
    let used = 0;
    const userHandle = () => {
      if (used === entropy.length) {
        entropy = randomBytes(32 * 4096);
        used = 0;
      }
      used += 32;
      return entropy.toString('base64url', used - 32, used);
    };
    let batch = new Map<string, ImportedAccountRow>();
    let batchRejected: RejectedRow[] = [];
    let batchNumber = 0;
    // Up to two batches are written at once (each its own transaction, so PostgreSQL works on both
    // while the next is parsed). The checkpoint moves only in file order: a batch's transaction
    // advances it from the end of the batch before it (compare-and-set, waiting on that batch's
    // row lock), so a crash never leaves it past a batch that did not commit.
    const inflight: { done: Promise<void>; ids: ReadonlyMap<string, unknown> }[] = [];
    let flushedImported = imported;
    let flushedRejected = rejectedTotal;
    let flushedEnd = byteOffset;

    const commit = async (
      rows: ImportedAccountRow[],
      previous: Promise<void> | undefined,
      from: number,
      end: { byteOffset: number; line: number },
      totals: { imported: number; rejected: number },
      finished = false,
    ) => {
      const result = await knex.transaction(async (trx) => {
        const written = await upsert(trx, rows);
        // The checkpoint moves in file order: after the previous batch has committed (or failed).
        await previous?.catch(() => undefined);
        if (
          !(await advanceImportCheckpoint(trx, id, {
            from,
            byteOffset: end.byteOffset,
            line: end.line,
            imported: totals.imported,
            rejected: totals.rejected,
            finished,
          }))
        ) {
          throw new AppError(
            'ERR_IMPORT_INTERRUPTED',
            'an earlier batch of this import did not commit; run the import again to resume',
          );
        }
        if (finished)
          await appendAudit(trx, {
            action: 'accounts.imported',
            actor: options.actor,
            subject: `import:${id.slice(0, 16)}`,
            details: { file, rows: totals.imported, rejected: totals.rejected },
          });
        return written;
      });
      if (result.updated) await feed?.publish(ACCOUNTS_TOPIC);
      report.inserted += result.inserted;
      report.updated += result.updated;
      report.unchanged += rows.length - result.inserted - result.updated;
      batchNumber += 1;
      await options.afterBatch?.(batchNumber);
    };

    const settle = async () => {
      while (inflight.length) await inflight.shift()!.done;
    };

    const flush = async (end: { byteOffset: number; line: number }, finished = false) => {
      const ids = batch;
      const rows = [...batch.values()];
      const rejected = batchRejected;
      batch = new Map();
      batchRejected = [];
      // At most two in flight: wait for the older one (and surface its failure) first.
      if (inflight.length >= 2 || finished) await (finished ? settle() : inflight.shift()!.done);
      flushedImported += rows.length;
      flushedRejected += rejected.length;
      const done = commit(
        rows,
        inflight.at(-1)?.done,
        flushedEnd,
        end,
        { imported: flushedImported, rejected: flushedRejected },
        finished,
      );
      flushedEnd = end.byteOffset;
      done.catch(() => undefined);
      inflight.push({ done, ids });
      if (finished) await settle();
    };

    const records = readCsvRecords(file, byteOffset, resume ? resume.line : 0);
    // The first run reads the header line again (checked above) and skips it.
    let header = !resume;
    try {
      for await (const record of records) {
        if (header) {
          header = false;
          continue;
        }
        const { fields } = record;
        report.rows += 1;
        const checked = checkMember(
          field(fields, legacyIdAt),
          field(fields, nameAt),
          field(fields, birthdateAt),
          field(fields, emailAt),
          field(fields, phoneAt),
          field(fields, certSerialAt),
        );
        if ('field' in checked) {
          const rejected: RejectedRow = {
            line: record.line,
            legacyId: (field(fields, legacyIdAt) ?? '').trim().slice(0, 128),
            field: checked.field,
            reason: checked.reason,
          };
          batchRejected.push(rejected);
          await options.onRejected?.(rejected);
          report.rejected += 1;
        } else {
          const { legacyId } = checked;
          // The same member in a batch still being written: let it commit first (no lock waits between batches).
          if (inflight.length && inflight.some((f) => f.ids.has(legacyId))) await settle();
          // A member listed twice in one batch: the later row wins, as it would across batches.
          batch.delete(legacyId);
          const { certSerial } = checked;
          batch.set(legacyId, {
            id: randomUUID(),
            legacyId,
            name: checked.name,
            birthdate: checked.birthdate,
            email: checked.email,
            phoneNumber: checked.phoneNumber,
            webauthnUserId: userHandle(),
            subjectKey:
              certSerial && options.subjectKeyOf ? options.subjectKeyOf(certSerial) : null,
          });
        }
        byteOffset = record.end;
        line = record.endLine;
        if (batch.size + batchRejected.length >= batchSize) await flush({ byteOffset, line });
        if (report.rows % 1000 === 0)
          options.onProgress?.({
            bytes: byteOffset,
            totalBytes: stat.size,
            rows: report.rows,
            imported: flushedImported + batch.size,
            rejected: flushedRejected + batchRejected.length,
          });
      }
      await flush({ byteOffset, line }, true);
      options.onProgress?.({
        bytes: byteOffset,
        totalBytes: stat.size,
        rows: report.rows,
        imported: flushedImported,
        rejected: flushedRejected,
      });
    } finally {
      await records.return(undefined);
      // Nothing keeps writing after this returns (or throws).
      await Promise.allSettled(inflight.map((f) => f.done));
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return {
      file,
      ...report,
      resumedAt: resume?.byteOffset ?? 0,
      seconds,
      rowsPerSecond: Math.round(report.rows / (seconds || 1e-9)),
    };
  },

  /** A one-time enrolment link (to create a first passkey) for an imported member, by legacy id. */
  async enrolmentLinkForLegacyId(
    legacyId: string,
    issuedBy: string,
  ): Promise<{ accountId: string; url: string; expiresAt: Date }> {
    const accountId = await findAccountIdByLegacyId(knex, legacyId);
    if (!accountId)
      throw new AppError('ERR_ACCOUNT_UNKNOWN', `legacy_id: no imported account has ${legacyId}`, {
        status: 404,
      });
    const token = randomToken();
    const expiresAt = new Date(clock.now().getTime() + enrolmentTtlSeconds * 1000);
    await knex.transaction(async (trx) => {
      await insertEnrolmentLink(trx, {
        id: randomUUID(),
        accountId,
        tokenHash: sha256(token),
        expiresAt,
        issuedBy,
      });
      await appendAudit(trx, {
        action: 'accounts.enrolment.issued',
        actor: issuedBy,
        subject: `account:${accountId}`,
        details: { expiresAt: expiresAt.toISOString(), legacyId },
      });
    });
    return { accountId, url: `${issuer}/enrol/${token}`, expiresAt };
  },
});

export type ImportService = ReturnType<typeof createImportService>;
