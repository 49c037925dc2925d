// Names a citizen reads (a system's client_name, an agency's name): a consent page must never
// name One-ID itself as the requester, nor show text reordered by invisible characters.

// Control characters and format characters (Cf: bidirectional overrides and isolates, zero-width
// joiners, the BOM) and the line and paragraph separators.
const INVISIBLE = /[\p{Cc}\p{Cf}\u2028\u2029]/u;

// Compared after NFKC (full-width letters fold) and case-folding, spaces and punctuation as one
// space: "One-ID", "ONE ID" and "oneid" as a word, "원아이디" and "통합 로그인" anywhere.
const RESERVED_WORD = /(?<![a-z0-9])one ?id(?![a-z0-9])/;
const RESERVED_HANGUL = ['원아이디', '통합로그인'];

const fold = (value: string) =>
  value
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[\s\p{P}\p{S}]+/gu, ' ');

const INVISIBLE_PROBLEM = 'must not contain control or bidirectional-override characters';

/** Why `value` may not be shown to citizens as text (a description), or undefined when it may. */
export const displayTextProblem = (value: string): string | undefined =>
  INVISIBLE.test(value) ? INVISIBLE_PROBLEM : undefined;

/** Why `value` may not be shown to citizens as a name, or undefined when it may. */
export const displayNameProblem = (value: string): string | undefined => {
  if (INVISIBLE.test(value)) return INVISIBLE_PROBLEM;
  const folded = fold(value);
  const hit =
    RESERVED_WORD.test(folded) ||
    RESERVED_HANGUL.some((r) => folded.replaceAll(' ', '').includes(r));
  return hit ? 'names One-ID itself; choose the name of the agency or system' : undefined;
};
