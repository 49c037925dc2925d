// The registry's problems ("field: message", in English: src/clients/client-metadata.ts) in the
// console's language: each known kind of message has its own text, with the field's label from
// the form; a message of a kind not listed here keeps its English text (nothing is lost).
import type { Translate } from '../../render/messages.ts';

/** The registry's message kinds, by their English text, and the locale key saying each. */
const KINDS: readonly (readonly [RegExp, string])[] = [
  [/^(must be an absolute URL|Invalid URL)$/, 'admin.problem.url'],
  [/^must (use https|be an https URL) \(http only for localhost\)$/, 'admin.problem.https_local'],
  [/^must (use https|be an https URL)$/, 'admin.problem.https'],
  [
    /^must be an https URL without query or fragment \(http only for localhost\)$/,
    'admin.problem.https_bare',
  ],
  [/^must not contain wildcards$/, 'admin.problem.wildcard'],
  [/^must not contain a fragment$/, 'admin.problem.fragment'],
  [/^must not contain credentials$/, 'admin.problem.credentials'],
  [
    /^(is required|must not be empty|Invalid input: expected \w+, received undefined)$/,
    'admin.problem.required',
  ],
  [/^needs at least one (URI|key)$/, 'admin.problem.required'],
  [/^is required when redirect_uris use more than one host$/, 'admin.problem.sector_required'],
  [/^Too big: expected string to have <=(?<max>\d+) characters$/, 'admin.problem.too_long'],
  [/^must be 3-100 characters of A-Z a-z 0-9 \. _ -$/, 'admin.problem.client_id'],
  [/^unknown claim (?<claims>.+)$/, 'admin.problem.unknown_claim'],
  [/^is not a valid public key$/, 'admin.problem.public_key'],
  [/^is not valid JSON$/, 'admin.problem.json'],
];

/**
 * `field`'s label on the form (`admin.form.<field>`), with the item's place for a list entry
 * (`redirect_uris.0`: the first URI); undefined where the form has no label for it.
 */
const labelOf = (field: string, t: Translate) => {
  const [base = '', index] = field.split('.');
  const key = `admin.form.${base}`;
  // The label without its hint: "리디렉션 URI (한 줄에 하나)" names the field as "리디렉션 URI".
  const label = t(key).replace(/\s*\([^)]*\)$/, '');
  if (t(key) === key) return undefined;
  return index !== undefined && /^\d+$/.test(index)
    ? t('admin.problem.item', { label, n: Number(index) + 1 })
    : label;
};

/** One problem in the console's language: its label when the form has one, its known message. */
export const translateProblem = (
  problem: { field: string; message: string },
  t: Translate,
): { field: string; message: string; label?: string } => {
  const label = labelOf(problem.field, t);
  for (const [pattern, key] of KINDS) {
    const m = pattern.exec(problem.message);
    if (m) return { ...problem, message: t(key, { ...m.groups }), ...(label && { label }) };
  }
  return { ...problem, ...(label && { label }) };
};
