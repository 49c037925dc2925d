// `accounts import --file members.csv`: the CLI side of moving a portal's members in: a progress
// bar on stderr, rejected rows appended to a report file (line, field, reason), and the mapping
// of certificate subject serials to certificate subject keys (CERT_MAPPING_RULE subject-serial).
import { appendFileSync, existsSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { readCsvRecords } from '../accounts/csv-records.ts';
import { certificateSubjectKey, type ValidatedCertificate } from '../auth/certificate/index.ts';
import { parseCertificate } from '../auth/certificate/validation/certificate-encoding.ts';
import type {
  ImportProgress,
  ImportReport,
  ImportService,
  RejectedRow,
} from '../accounts/index.ts';
import { AppError } from '../shared/index.ts';

/**
 * The subject key a member's certificate will map to under `subject-serial`: the holder id (subject
 * serialNumber) scoped to the trust anchor that issues the members' certificates (the first
 * certificate of `anchorPath`). Other mapping rules need a certificate, so serials are refused.
 */
export const subjectKeyMapper = (
  anchorPath: string | undefined,
  rule: string,
): ((serial: string) => string) | undefined => {
  if (!anchorPath) return undefined;
  if (rule !== 'subject-serial')
    throw new AppError(
      'ERR_USAGE',
      `--cert-anchor: cert_subject_serial maps certificates only under CERT_MAPPING_RULE=subject-serial (now ${rule})`,
    );
  let anchor;
  try {
    anchor = parseCertificate(readFileSync(anchorPath, 'utf8'));
  } catch (error) {
    throw new AppError(
      'ERR_USAGE',
      `--cert-anchor: ${anchorPath} is not a PEM certificate (${(error as Error).message})`,
    );
  }
  return (serial) =>
    certificateSubjectKey(
      { subjectSerialNumber: serial, trustAnchorSubject: anchor.subject } as ValidatedCertificate,
      'subject-serial',
    );
};

const csvCell = (value: string | number) =>
  /[",\n\r]/.test(String(value)) ? `"${String(value).replace(/"/g, '""')}"` : String(value);

/** A one-line progress bar, redrawn at most 10 times a second. */
const progressBar = (stream: NodeJS.WriteStream) => {
  let last = 0;
  const started = performance.now();
  return (p: ImportProgress, final = false) => {
    const now = performance.now();
    if (!final && now - last < 100) return;
    last = now;
    const fraction = p.totalBytes ? Math.min(1, p.bytes / p.totalBytes) : 1;
    const width = 30;
    const filled = Math.round(fraction * width);
    const rate = Math.round(p.rows / Math.max(0.001, (now - started) / 1000));
    stream.write(
      `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(1).padStart(5)}%  ${p.rows.toLocaleString('en')} rows  ${p.rejected.toLocaleString('en')} rejected  ${rate.toLocaleString('en')} rows/s${final ? '\n' : ''}`,
    );
  };
};

export const runImport = async (
  imports: ImportService,
  options: {
    file: string;
    /** The audit actor: the CLI's `cli:<os user>@<host>`. */
    actor: string;
    rejects?: string | undefined;
    restart?: boolean;
    subjectKeyOf?: ((serial: string) => string) | undefined;
    stderr?: NodeJS.WriteStream;
  },
): Promise<{ report: ImportReport; rejectsFile: string }> => {
  const rejectsFile = options.rejects ?? `${options.file}.rejected.csv`;
  // A run from the top (first, restarted, changed or finished file) writes a new report; a resumed
  // one continues the report of the run it resumes, less the rows past the checkpoint (written
  // before their batch committed, they are read and reported again).
  const startReport = async ({ resumedAt, line }: { resumedAt: number; line: number }) => {
    if (!resumedAt || !existsSync(rejectsFile))
      return writeFileSync(rejectsFile, 'line,legacy_id,field,reason\n');
    let kept = 0;
    for await (const record of readCsvRecords(rejectsFile, 0, 0)) {
      if (record.line > 1 && Number(record.fields[0]) > line)
        return truncateSync(rejectsFile, kept);
      // The end of the record and of its line break.
      kept = record.end;
    }
  };
  const stderr = options.stderr ?? process.stderr;
  const bar = stderr.isTTY || process.env.ONEID_PROGRESS === '1' ? progressBar(stderr) : undefined;
  let lastProgress: ImportProgress | undefined;
  const report = await imports.importFile({
    file: options.file,
    actor: options.actor,
    restart: options.restart ?? false,
    subjectKeyOf: options.subjectKeyOf,
    onStart: startReport,
    onRejected: (r: RejectedRow) =>
      appendFileSync(
        rejectsFile,
        `${[r.line, r.legacyId, r.field, r.reason].map(csvCell).join(',')}\n`,
      ),
    onProgress: (p) => {
      lastProgress = p;
      bar?.(p);
    },
  });
  if (bar && lastProgress) bar(lastProgress, true);
  return { report, rejectsFile };
};

export const formatImportReport = ({
  report,
  rejectsFile,
}: {
  report: ImportReport;
  rejectsFile: string;
}) =>
  [
    `Imported ${report.file}${report.resumedAt ? ` (resumed at byte ${report.resumedAt})` : ''}:`,
    `  ${report.rows} row(s) read: ${report.inserted} new, ${report.updated} updated, ${report.unchanged} unchanged, ${report.rejected} rejected`,
    `  ${report.seconds.toFixed(1)} s, ${report.rowsPerSecond} rows/s`,
    ...(report.rejected ? [`Rejected rows (line, field, reason): ${rejectsFile}`] : []),
    'Members sign in with a passkey (npm run cli -- citizens enroll-link --legacy-id ID) or a certificate that maps to their record.',
  ].join('\n');
