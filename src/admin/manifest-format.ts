// The onboarding manifest, in JSON or CSV (docs/admin.md): agencies and their systems. Parsing
// only turns text into rows (each with where it came from); the manifest service validates them.
//
// JSON: { "agencies": [{ "name", "name_en"?, "contact"? }], "systems": [{ client metadata + "status"? }] }
// CSV:  one header line, then one line per agency (kind=agency) or system (kind=system); list
//       cells are space-separated (redirect_uris, grant_types, contacts...), `jwks` and
//       `allowed_claims` hold JSON, booleans are true/false, empty cells are absent.
import { AppError } from '../shared/index.ts';

export type ManifestFormat = 'json' | 'csv';
export type ManifestRow = { where: string; value: Record<string, unknown> };
export type ParsedManifest = { agencies: ManifestRow[]; systems: ManifestRow[] };

const LISTS = [
  'redirect_uris',
  'post_logout_redirect_uris',
  'grant_types',
  'response_types',
  'contacts',
] as const;
const JSON_CELLS = ['jwks', 'allowed_claims'] as const;
const BOOLEANS = ['backchannel_logout_session_required'] as const;
const AGENCY_COLUMNS = ['name', 'name_en', 'contact'] as const;
const SYSTEM_COLUMNS = [
  'client_id',
  'agency',
  'client_name',
  'status',
  'redirect_uris',
  'post_logout_redirect_uris',
  'grant_types',
  'response_types',
  'token_endpoint_auth_method',
  'jwks_uri',
  'jwks',
  'sector_identifier_uri',
  'backchannel_logout_uri',
  'backchannel_logout_session_required',
  'id_token_signed_response_alg',
  'logo_uri',
  'client_uri',
  'policy_uri',
  'contacts',
  'scope',
  'allowed_claims',
] as const;
export const CSV_COLUMNS = [
  'kind',
  ...AGENCY_COLUMNS,
  ...SYSTEM_COLUMNS.filter((c) => c !== 'agency'),
  'agency',
] as const;

const invalid = (message: string) =>
  new AppError('ERR_INVALID_MANIFEST', message, { details: { problems: [message] } });

/** RFC 4180: quoted cells may hold commas, doubled quotes and line breaks. */
export const parseCsv = (text: string): string[][] => {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  const src = text.replace(/^\uFEFF/, '');
  for (let i = 0; i < src.length; i += 1) {
    const ch = src[i]!;
    if (quoted) {
      if (ch === '"' && src[i + 1] === '"') {
        cell += '"';
        i += 1;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"' && cell === '') quoted = true;
    else if (ch === ',') {
      row.push(cell);
      cell = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && src[i + 1] === '\n') i += 1;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += ch;
  }
  if (quoted) throw invalid('the CSV ends inside a quoted cell');
  if (cell !== '' || row.length) {
    row.push(cell);
    rows.push(row);
  }
  return rows.filter((r) => r.some((c) => c.trim() !== ''));
};

const csvCell = (value: string) =>
  /[",\r\n]/.test(value) || /^\s|\s$/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;

const fromCell = (column: string, cell: string, where: string): unknown => {
  if ((LISTS as readonly string[]).includes(column)) return cell.split(/\s+/).filter(Boolean);
  if ((BOOLEANS as readonly string[]).includes(column)) {
    if (cell !== 'true' && cell !== 'false')
      throw invalid(`${where}: ${column}: must be true or false`);
    return cell === 'true';
  }
  if ((JSON_CELLS as readonly string[]).includes(column)) {
    try {
      return JSON.parse(cell);
    } catch {
      throw invalid(`${where}: ${column}: is not valid JSON`);
    }
  }
  return cell;
};

const toCell = (column: string, value: unknown): string => {
  if (value === undefined || value === null) return '';
  if ((LISTS as readonly string[]).includes(column) && Array.isArray(value)) return value.join(' ');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
};

export const parseManifest = (text: string, format: ManifestFormat): ParsedManifest => {
  if (format === 'json') {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (error) {
      throw invalid(`the manifest is not valid JSON: ${(error as Error).message}`);
    }
    if (!doc || typeof doc !== 'object' || Array.isArray(doc))
      throw invalid('the manifest must be a JSON object with "agencies" and "systems"');
    const { agencies = [], systems = [], ...rest } = doc as Record<string, unknown>;
    const extra = Object.keys(rest).filter((k) => k !== 'version');
    if (extra.length)
      throw invalid(`unknown key(s) ${extra.join(', ')}: a manifest has "agencies" and "systems"`);
    if (!Array.isArray(agencies)) throw invalid('agencies: must be an array');
    if (!Array.isArray(systems)) throw invalid('systems: must be an array');
    const rows = (list: unknown[], name: string) =>
      list.map((value, i) => ({
        where: `${name}[${i}]`,
        value: (value && typeof value === 'object' && !Array.isArray(value)
          ? value
          : { _: value }) as Record<string, unknown>,
      }));
    return { agencies: rows(agencies, 'agencies'), systems: rows(systems, 'systems') };
  }
  const [header, ...lines] = parseCsv(text);
  if (!header) return { agencies: [], systems: [] };
  const columns = header.map((h) => h.trim());
  const unknown = columns.filter((c) => !(CSV_COLUMNS as readonly string[]).includes(c));
  if (unknown.length) throw invalid(`line 1: unknown column(s) ${unknown.join(', ')}`);
  if (!columns.includes('kind'))
    throw invalid('line 1: the CSV needs a "kind" column (agency or system)');
  const parsed: ParsedManifest = { agencies: [], systems: [] };
  lines.forEach((cells, i) => {
    const where = `line ${i + 2}`;
    const value: Record<string, unknown> = {};
    columns.forEach((column, c) => {
      const cell = cells[c] ?? '';
      if (column !== 'kind' && cell.trim() !== '')
        value[column] = fromCell(column, cell.trim(), where);
    });
    const kind = (cells[columns.indexOf('kind')] ?? '').trim();
    if (kind === 'agency') parsed.agencies.push({ where, value });
    else if (kind === 'system') parsed.systems.push({ where, value });
    else throw invalid(`${where}: kind: must be agency or system`);
  });
  return parsed;
};

export type ManifestDocument = {
  agencies: Record<string, unknown>[];
  systems: Record<string, unknown>[];
};

export const formatManifest = (doc: ManifestDocument, format: ManifestFormat): string => {
  if (format === 'json') return `${JSON.stringify({ version: 1, ...doc }, null, 2)}\n`;
  const lines = [CSV_COLUMNS.join(',')];
  for (const a of doc.agencies)
    lines.push(
      CSV_COLUMNS.map((c) =>
        c === 'kind'
          ? 'agency'
          : (AGENCY_COLUMNS as readonly string[]).includes(c)
            ? csvCell(toCell(c, a[c]))
            : '',
      ).join(','),
    );
  for (const s of doc.systems)
    lines.push(
      CSV_COLUMNS.map((c) =>
        c === 'kind'
          ? 'system'
          : (SYSTEM_COLUMNS as readonly string[]).includes(c)
            ? csvCell(toCell(c, s[c]))
            : '',
      ).join(','),
    );
  return `${lines.join('\r\n')}\r\n`;
};
