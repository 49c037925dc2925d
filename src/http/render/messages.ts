// Page texts as data (locales/*.json), Korean first; typed keys, placeholders and plurals.
import citizenKo from './locales/citizen.ko.json' with { type: 'json' };
import citizenEn from './locales/citizen.en.json' with { type: 'json' };
import adminKo from './locales/admin.ko.json' with { type: 'json' };
import adminEn from './locales/admin.en.json' with { type: 'json' };

export const LANGS = ['ko', 'en'] as const;
export type Lang = (typeof LANGS)[number];

/** The BCP 47 locale each page language formats numbers, plurals and dates with. */
export const LOCALES: Record<Lang, string> = { ko: 'ko-KR', en: 'en-GB' };

/**
 * A text, or its plural forms by CLDR category (Intl.PluralRules) chosen by the `count`
 * variable: Korean needs only `other`, English `one` and `other` ("1 day", "2 days").
 */
export type Message = string | ({ other: string } & Partial<Record<Intl.LDMLPluralRule, string>>);

/** Every key the Korean tables define: the source of truth (citizen pages and admin console). */
export type MessageKey = keyof typeof citizenKo | keyof typeof adminKo;

const ko = { ...citizenKo, ...adminKo } satisfies Record<MessageKey, Message>;
// `satisfies` makes a key missing from the English tables a type error (a test checks the rest:
// no extra keys, the same placeholders, the plural forms English needs).
const en = { ...citizenEn, ...adminEn } satisfies Record<MessageKey, Message>;

export const MESSAGES = { ko, en };

/** The tables by file, for the test that keeps them apart and in step. */
export const LOCALE_FILES = {
  citizen: { ko: citizenKo, en: citizenEn },
  admin: { ko: adminKo, en: adminEn },
} as const;

export type Vars = Record<string, string | number>;
export type Translate = (key: MessageKey | (string & {}), vars?: Vars) => string;

/**
 * t(key, vars) in one language. An unknown key comes back as itself (callers test
 * `t(key) !== key` to ask whether a code has its own text); numbers are formatted for the
 * language, and `count` picks the plural form.
 */
const createTranslator = (lang: Lang): Translate => {
  const table = MESSAGES[lang] as Record<string, Message>;
  const plurals = new Intl.PluralRules(LOCALES[lang]);
  const numbers = new Intl.NumberFormat(LOCALES[lang]);
  return (key, vars = {}) => {
    const entry = table[key];
    if (entry === undefined) return key;
    const text =
      typeof entry === 'string'
        ? entry
        : (entry[plurals.select(Number(vars.count ?? 0))] ?? entry.other);
    // Most texts hold no placeholder: nothing to replace.
    if (!text.includes('{')) return text;
    return text.replace(/\{(\w+)\}/g, (_, name: string) => {
      const value = vars[name];
      return typeof value === 'number' ? numbers.format(value) : (value ?? '');
    });
  };
};

/**
 * One translator per language, built once: the tables are constants, and building the Intl
 * formatters costs more than all of a page's lookups (every page render asks for one).
 */
const TRANSLATORS = new Map(LANGS.map((lang) => [lang, createTranslator(lang)]));

export const translator = (lang: Lang): Translate =>
  TRANSLATORS.get(lang) ?? createTranslator(lang);

/** A plain page title for an error code: its own when written, else one per kind of failure. */
export const errorTitleKey = (t: (key: string) => string, code: string, status: number) => {
  const key = `errtitle.${code}`;
  if (t(key) !== key) return key;
  return status >= 500 ? 'errtitle.server' : 'error.title';
};
