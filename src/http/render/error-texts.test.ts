// Each error code has a Korean and an English text (`err.<code>`) for the pages and problem+json
// bodies, unless it is listed below with why its English message is shown as written.
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, type ErrorCode } from '../../shared/index.ts';
import { LANGS, translator } from './messages.ts';

/** Read by operators, agency systems or logs, where the message itself is the text. */
const OPERATOR_CODES: readonly ErrorCode[] = [
  // The admin API and console, and the admin use cases behind them.
  'ERR_UNAUTHENTICATED',
  'ERR_INVALID_TOKEN',
  'ERR_INSUFFICIENT_SCOPE',
  'ERR_REAUTH_REQUIRED',
  'ERR_BAD_PARAMETER',
  'ERR_INVALID_ADMIN_INPUT',
  'ERR_ACCOUNT_UNKNOWN',
  'ERR_AGENCY_UNKNOWN',
  'ERR_LAST_PLATFORM_ADMIN',
  'ERR_CLIENT_UNKNOWN',
  'ERR_CLIENT_EXISTS',
  'ERR_CLIENT_FIRST_PARTY',
  'ERR_CLIENT_NO_SECRET',
  'ERR_INVALID_CLIENT_METADATA',
  'ERR_INVALID_CLAIM',
  'ERR_INVALID_MANIFEST',
  'ERR_MANIFEST_REJECTED',
  'ERR_INVALID_UPSTREAM',
  'ERR_UPSTREAM_EXISTS',
  'ERR_UPSTREAM_NOT_FOUND',
  // The agency-link API that agency systems call.
  'ERR_AGENCY_TOKEN',
  'ERR_INVALID_AGENCY_LINK',
  'ERR_AGENCY_LINK_CONFLICT',
  'ERR_AGENCY_LINK_NOT_ALLOWED',
  'ERR_AGENCY_LINK_NOT_FOUND',
  'ERR_AGENCY_SUBJECT_UNKNOWN',
  // Starting up, the command line and account import.
  'ERR_CONFIG',
  'ERR_USAGE',
  'ERR_SEED_OVERLAP',
  'ERR_AUDIT_CHAIN_BROKEN',
  'ERR_SIGNING_KEY_UNKNOWN',
  'ERR_SIGNING_KEY_IRREPLACEABLE',
  'ERR_IMPORT_CSV',
  'ERR_IMPORT_COLUMNS',
  'ERR_IMPORT_PASSWORD_COLUMN',
  'ERR_IMPORT_EMPTY',
  'ERR_IMPORT_INTERRUPTED',
  // 5xx: a page shows the generic "try again" text (error.retry), the log the message.
  'ERR_INTERNAL',
  'ERR_SECRET_KEY_UNKNOWN',
  'ERR_BACKCHANNEL_UNDELIVERABLE',
];

/**
 * A citizen can meet these, and sees their English message until the locale files have a text.
 * Adding the texts means removing the code here (the last test fails until you do).
 */
const AWAITING_TEXTS: readonly ErrorCode[] = [];

const untranslated = new Set<ErrorCode>([...OPERATOR_CODES, ...AWAITING_TEXTS]);
const hasText = (lang: (typeof LANGS)[number], code: ErrorCode) =>
  translator(lang)(`err.${code}`) !== `err.${code}`;

describe('error texts', () => {
  it('lists each untranslated code once, and only codes that exist', () => {
    const listed = [...OPERATOR_CODES, ...AWAITING_TEXTS];
    expect(listed.length).toBe(untranslated.size);
    for (const code of listed) expect(ERROR_CODES).toContain(code);
  });

  it.each(ERROR_CODES.filter((c) => !untranslated.has(c)))('%s has a ko and an en text', (code) => {
    for (const lang of LANGS) expect(hasText(lang, code), `${lang}: err.${code}`).toBe(true);
  });

  it.each([...untranslated])('%s is untranslated, as listed', (code) => {
    for (const lang of LANGS) expect(hasText(lang, code), `${lang}: err.${code}`).toBe(false);
  });
});
