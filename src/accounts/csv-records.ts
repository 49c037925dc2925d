// The records of a CSV file from a byte offset, each with the line it starts on, the line it
// ends on and the byte offset after it: what an import needs to report rejected rows and to
// checkpoint (and resume) mid-file. csv-parse does the parsing (RFC 4180 quoting, quoted line
// breaks, BOM); its per-record `info` gives each record's end.
import { createReadStream } from 'node:fs';
import { CsvError, parse } from 'csv-parse';
import { AppError } from '../shared/index.ts';

export type CsvRecord = { fields: string[]; line: number; endLine: number; end: number };

type Info = { lines: number; bytes: number; empty_lines: number };

/** CRLFs inside quoted fields, which csv-parse counts as two lines each. */
const quotedCrlfs = (fields: string[]) => {
  let n = 0;
  for (const f of fields)
    for (let i = f.indexOf('\r\n'); i >= 0; i = f.indexOf('\r\n', i + 2)) n += 1;
  return n;
};

/**
 * Records from byte `start` of `file`, which lies after line `line` (0 at the start of the
 * file, where a BOM is skipped). Blank lines are skipped; a malformed record stops the reading
 * with ERR_IMPORT_CSV naming its line.
 */
export async function* readCsvRecords(
  file: string,
  start: number,
  line: number,
): AsyncGenerator<CsvRecord> {
  const parser = createReadStream(file, { start, highWaterMark: 1 << 20 }).pipe(
    parse({
      bom: start === 0,
      info: true,
      skip_empty_lines: true,
      relax_column_count: true,
      record_delimiter: ['\r\n', '\n', '\r'],
    }),
  );
  let endLine = line;
  let empty = 0;
  let overcount = 0;
  try {
    for await (const { record, info } of parser as AsyncIterable<{
      record: string[];
      info: Info;
    }>) {
      const first = endLine + 1 + (info.empty_lines - empty);
      empty = info.empty_lines;
      if (record.some((f) => f.includes('\r'))) overcount += quotedCrlfs(record);
      endLine = line + info.lines - overcount;
      yield { fields: record, line: first, endLine, end: start + info.bytes };
    }
  } catch (error) {
    if (!(error instanceof CsvError)) throw error;
    const at = line + Number((error as CsvError & { lines?: number }).lines ?? endLine - line + 1);
    throw new AppError('ERR_IMPORT_CSV', `line ${at}: ${error.message}`, { details: { line: at } });
  } finally {
    parser.destroy();
  }
}
