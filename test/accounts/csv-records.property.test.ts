// csv-records.ts against files whose every record's lines and byte offsets are known: random
// records (quotes, commas, line breaks and CRLFs inside quoted fields, Korean, emoji), written
// with LF or CRLF line ends and blank lines between them, read back from the start and from
// each record's end (as a resumed import does).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { readCsvRecords, type CsvRecord } from '../../src/accounts/csv-records.ts';

const dir = mkdtempSync(join(tmpdir(), 'oneid-csv-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const fieldText = fc.oneof(
  fc.string({
    unit: fc.constantFrom('a', 'b', ',', '"', '\n', '\r\n', ' ', '홍', '👩‍👩‍👧', '-'),
    maxLength: 12,
  }),
  fc.string({ maxLength: 8 }).map((s) => s.replace(/[\r\n",]/g, 'x')),
);
// A record of one empty field would be a blank line: every record has a non-empty first field.
const record = fc
  .tuple(
    fc.string({ minLength: 1, maxLength: 6 }).map((s) => s.replace(/[\r\n",]/g, 'y')),
    fc.array(fieldText, { maxLength: 4 }),
  )
  .map(([first, rest]) => [first, ...rest]);

const quote = (f: string) => (/[",\r\n]/.test(f) ? `"${f.replaceAll('"', '""')}"` : f);
const lineBreaks = (s: string) => (s.match(/\r\n|\n|\r/g) ?? []).length;

/** The file, and each record as the reader must report it. */
const write = (records: string[][], eol: string, blanks: number[], bom: boolean) => {
  let text = bom ? '\uFEFF' : '';
  let line = 0;
  const expected: CsvRecord[] = [];
  records.forEach((fields, i) => {
    for (let b = 0; b < (blanks[i] ?? 0); b += 1) {
      text += eol;
      line += 1;
    }
    const body = fields.map(quote).join(',');
    const last = i === records.length - 1;
    text += body + (last ? '' : eol);
    const first = line + 1;
    line += 1 + lineBreaks(body);
    expected.push({ fields, line: first, endLine: line, end: Buffer.byteLength(text) });
  });
  return { text, expected };
};

const readAll = async (file: string, start: number, line: number) => {
  const out: CsvRecord[] = [];
  for await (const r of readCsvRecords(file, start, line)) out.push(r);
  return out;
};

describe('readCsvRecords', () => {
  it(
    'reports every record with its fields, first and last line and end byte, read whole or resumed',
    { timeout: 60_000 },
    async () => {
      let n = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.array(record, { minLength: 1, maxLength: 12 }),
          fc.constantFrom('\n', '\r\n'),
          fc.array(fc.nat({ max: 2 }), { maxLength: 12 }),
          fc.boolean(),
          async (records, eol, blanks, bom) => {
            const { text, expected } = write(records, eol, blanks, bom);
            const file = join(dir, `f${(n += 1)}.csv`);
            writeFileSync(file, text);
            expect(await readAll(file, 0, 0)).toEqual(expected);
            // Resumed after record k: the rest, with the same lines and offsets.
            const k = Math.floor(expected.length / 2);
            if (k > 0)
              expect(await readAll(file, expected[k - 1]!.end, expected[k - 1]!.endLine)).toEqual(
                expected.slice(k),
              );
          },
        ),
        { numRuns: 150 },
      );
    },
  );

  it('stops at a malformed record, naming its line', async () => {
    const file = join(dir, 'broken.csv');
    writeFileSync(file, 'a,b\n\nc,"d\ne",f\ng,h"i\n');
    await expect(readAll(file, 0, 0)).rejects.toMatchObject({
      code: 'ERR_IMPORT_CSV',
      message: expect.stringMatching(/^line 5:/),
    });
  });
});
