// The client form's allowance editor: one row per catalogue item (allowed, required, purpose in
// Korean and English, retention days) as plain form fields, `claims[<claim>][<field>]`, so it
// works without script. Rows are checked here first, so each error is localised and shown next
// to its row; the registry then applies every rule again (the API keeps taking JSON).
import type { ClaimAllowance } from '../../../clients/index.ts';
import type { CatalogueItem } from '../../../consent/index.ts';
import type { Translate } from '../../render/messages.ts';

export type AllowanceRow = {
  allowed: boolean;
  required: boolean;
  purpose_ko: string;
  purpose_en: string;
  retention_days: string;
};
export type AllowanceRows = Record<string, AllowanceRow>;
export type RowError = { field: string; message: string; href: string; label: string };

/** The hidden field that says the submission carries the editor (so no rows ticked means none). */
export const EDITOR_MARKER = 'allowances_editor';

const FIELD =
  /^claims\[([a-z][a-z0-9_]{0,63})\]\[(allowed|required|purpose_ko|purpose_en|retention_days)\]$/;
const SUBFIELDS = ['purpose_ko', 'purpose_en', 'retention_days'] as const;

const emptyRow = (): AllowanceRow => ({
  allowed: false,
  required: false,
  purpose_ko: '',
  purpose_en: '',
  retention_days: '',
});

/** The rows a submitted form holds (other fields ignored). */
export const rowsFromBody = (body: Record<string, unknown>): AllowanceRows => {
  const rows: AllowanceRows = {};
  for (const [key, value] of Object.entries(body)) {
    const m = FIELD.exec(key);
    if (!m || typeof value !== 'string') continue;
    const row = (rows[m[1]!] ??= emptyRow());
    const field = m[2] as keyof AllowanceRow;
    if (field === 'allowed' || field === 'required') row[field] = value === 'yes';
    else row[field] = value.trim();
  }
  return rows;
};

/** The rows a stored client's allowances fill in. */
export const rowsFromAllowances = (list: ClaimAllowance[] | undefined): AllowanceRows =>
  Object.fromEntries(
    (list ?? []).map((a) => [
      a.claim,
      {
        allowed: true,
        required: a.required,
        purpose_ko: a.purpose.ko,
        purpose_en: a.purpose.en,
        retention_days: String(a.retention_days),
      },
    ]),
  );

/** The allowed rows as `allowed_claims` (a number typed badly stays text: the schema names it). */
export const allowancesFromRows = (rows: AllowanceRows): Record<string, unknown>[] =>
  Object.entries(rows)
    .filter(([, r]) => r.allowed)
    .map(([claim, r]) => ({
      claim,
      purpose: { ko: r.purpose_ko, en: r.purpose_en },
      required: r.required,
      retention_days: /^\d{1,9}$/.test(r.retention_days)
        ? Number(r.retention_days)
        : r.retention_days,
    }));

/** The editor's rows in order: the catalogue's items, then any stored claim it no longer lists. */
export const editorItems = (
  catalogue: CatalogueItem[],
  rows: AllowanceRows,
): { name: string; label: { ko: string; en: string } }[] => [
  ...catalogue.map((i) => ({ name: i.name, label: i.label })),
  ...Object.keys(rows)
    .filter((name) => !catalogue.some((i) => i.name === name))
    .map((name) => ({ name, label: { ko: name, en: name } })),
];

/**
 * The allowed rows' problems, in the page's language, one per field (the same limits as the
 * client metadata schema: purposes of 1-300 characters, 1-3650 whole days).
 */
export const checkRows = (
  rows: AllowanceRows,
  labels: Record<string, string>,
  t: Translate,
): RowError[] =>
  Object.entries(rows)
    .filter(([, r]) => r.allowed)
    .flatMap(([claim, r]) =>
      SUBFIELDS.flatMap((sub) => {
        const value = r[sub];
        const bad =
          sub === 'retention_days'
            ? !/^\d{1,4}$/.test(value) || Number(value) < 1 || Number(value) > 3650
            : !value || value.length > 300;
        if (!bad) return [];
        return [
          {
            field: `claims.${claim}.${sub}`,
            href: `#claim-${claim}-${sub}`,
            label: `${labels[claim] ?? claim} · ${t(`admin.allowance.${sub}`)}`,
            message: t(`admin.allowance.err.${sub}`),
          },
        ];
      }),
    );

/**
 * Registry errors about `allowed_claims.<i>...` point at the i-th allowed row: moved onto that
 * row (its field when named), so they show next to it; other errors pass through.
 */
export const placeRegistryErrors = (
  errors: { field: string; message: string }[],
  rows: AllowanceRows,
  labels: Record<string, string>,
  t: Translate,
) => {
  const allowed = Object.keys(rows).filter((c) => rows[c]!.allowed);
  return errors.map((e) => {
    const m = /^allowed_claims\.(\d+)(?:\.(\w+))?/.exec(e.field);
    const claim = m ? allowed[Number(m[1])] : undefined;
    if (!claim) return e.field.startsWith('allowed_claims') ? { ...e, href: '#allowances' } : e;
    const sub =
      m![2] === 'purpose'
        ? e.field.endsWith('.en')
          ? 'purpose_en'
          : 'purpose_ko'
        : m![2] === 'retention_days'
          ? 'retention_days'
          : 'allowed';
    return {
      field: `claims.${claim}.${sub}`,
      href: `#claim-${claim}-${sub}`,
      label: `${labels[claim] ?? claim} · ${t(`admin.allowance.${sub}`)}`,
      message: t(`admin.allowance.err.${sub}`),
    };
  });
};
