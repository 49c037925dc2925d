// The locale tables stay in step: the same keys and placeholders in both languages, the plural
// forms each language needs, and every key a page or route names exists.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { engineText, engineTextKey } from './engine-texts.ts';
import { LANGS, LOCALE_FILES, LOCALES, MESSAGES, translator, type Message } from './messages.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const forms = (m: Message) => (typeof m === 'string' ? [m] : Object.values(m));
const placeholders = (m: Message) =>
  [...new Set(forms(m).flatMap((f) => [...f.matchAll(/\{(\w*)\}/g)].map((x) => x[1])))].sort();

const filesUnder = (dir: string, ext: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? filesUnder(join(dir, e.name), ext)
      : e.name.endsWith(ext) && !e.name.endsWith('.test.ts')
        ? [join(dir, e.name)]
        : [],
  );

describe('locale files', () => {
  it.each(Object.keys(LOCALE_FILES))('%s: the same keys and placeholders in ko and en', (part) => {
    const { ko, en } = LOCALE_FILES[part as keyof typeof LOCALE_FILES] as Record<
      string,
      Record<string, Message>
    >;
    expect(Object.keys(en).sort()).toEqual(Object.keys(ko).sort());
    for (const key of Object.keys(ko))
      expect({ key, names: placeholders(en[key]) }).toEqual({ key, names: placeholders(ko[key]) });
  });

  it('keeps admin texts apart from citizen texts', () => {
    const citizen = Object.keys(LOCALE_FILES.citizen.ko);
    const admin = Object.keys(LOCALE_FILES.admin.ko);
    expect(citizen.filter((k) => admin.includes(k))).toEqual([]);
    expect(citizen.filter((k) => k.startsWith('admin.'))).toEqual([]);
  });

  it.each(LANGS)('%s: plural texts have every form the language needs, counted by {count}', (l) => {
    const needed = new Intl.PluralRules(LOCALES[l]).resolvedOptions().pluralCategories;
    const plural = Object.entries(MESSAGES[l] as Record<string, Message>).filter(
      ([, m]) => typeof m !== 'string',
    );
    if (l === 'en') expect(plural.length).toBeGreaterThan(0);
    for (const [key, m] of plural) {
      expect({ key, forms: Object.keys(m).sort() }).toEqual({ key, forms: [...needed].sort() });
      expect(placeholders(m)).toContain('count');
    }
  });

  it('every literal key in views and routes exists', () => {
    const files = [
      ...filesUnder(join(ROOT, 'views'), '.eta'),
      ...filesUnder(join(ROOT, 'src/http'), '.ts'),
    ];
    const used = new Set<string>();
    for (const file of files)
      for (const m of readFileSync(file, 'utf8').matchAll(
        /\bt\(\s*'([a-z][\w-]*\.[\w.-]+)'(?!\s*\+)/g,
      ))
        used.add(m[1]);
    expect(used.size).toBeGreaterThan(200);
    expect([...used].filter((k) => !(k in MESSAGES.ko))).toEqual([]);
  });
});

describe('translator', () => {
  it('chooses the plural form with Intl.PluralRules and formats numbers per language', () => {
    const en = translator('en');
    const ko = translator('ko');
    expect(en('consent.retention.days', { count: 1 })).toBe('1 day');
    expect(en('consent.retention.days', { count: 30 })).toBe('30 days');
    expect(en('consent.retention.days', { count: 1500 })).toBe('1,500 days');
    expect(ko('consent.retention.days', { count: 1 })).toBe('1일');
    expect(ko('directory.count', { count: 1200 })).toBe('서비스 1,200개');
  });

  it('fills placeholders, leaves unknown ones empty and returns unknown keys as they are', () => {
    const t = translator('ko');
    expect(t('login.intro', { client: '정부24' })).toBe(
      '정부24에 로그인하려면 본인 인증이 필요합니다.',
    );
    expect(t('login.intro')).toBe('에 로그인하려면 본인 인증이 필요합니다.');
    expect(t('no.such.key')).toBe('no.such.key');
  });

  it('keeps one translator per language, each with its own table and number format', () => {
    expect(translator('ko')).toBe(translator('ko'));
    expect(translator('en')).toBe(translator('en'));
    // Asked in turns, neither language's table or formatter leaks into the other's.
    for (let i = 0; i < 2; i++) {
      expect(translator('en')('consent.retention.days', { count: 1500 })).toBe('1,500 days');
      expect(translator('ko')('consent.retention.days', { count: 1 })).toBe('1일');
      expect(translator('en')('consent.retention.days', { count: 1 })).toBe('1 day');
    }
  });
});

describe('engine texts', () => {
  it('translates the engine descriptions a browser meets', () => {
    const t = translator('ko');
    expect(engineTextKey('client is invalid')).toBe('engine.client_invalid');
    expect(
      engineText(t, "redirect_uri did not match any of the client's registered redirect_uris"),
    ).toEqual({ text: MESSAGES.ko['engine.redirect_uri_mismatch'], translated: true });
    expect(engineText(t, 'something new')).toEqual({ text: 'something new', translated: false });
  });
});
