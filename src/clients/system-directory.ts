// My One-ID's directory of agency systems: every enabled system but One-ID's own, named in Korean
// and English, searchable, each linked through third-party-initiated login (OIDC Core 4) when it
// registered an initiate_login_uri. Read per page view: it is one query, and never stale.
import type { Knex } from 'knex';
import { findSystemNameRows, listDirectoryRows, type DirectoryRow } from './directory-repo.ts';
import { isFirstPartyClient } from './first-party.ts';

type Lang = 'ko' | 'en';
/** A text in both languages; `en` falls back to the Korean text, and `enIsKo` says so. */
export type Localized = { ko: string; en: string; enIsKo: boolean };

export type DirectoryEntry = {
  clientId: string;
  name: Localized;
  agency: Localized;
  description?: Localized | undefined;
  /** initiate_login_uri with `iss`: the system then sends the citizen to One-ID (already signed in). */
  loginUrl?: string | undefined;
};

const text = (value: unknown) => (typeof value === 'string' && value ? value : undefined);

const localized = (ko: string, en: string | undefined): Localized => ({
  ko,
  en: en ?? ko,
  enIsKo: en === undefined,
});

/**
 * OIDC Core 4: the login initiation endpoint gets `iss` (required) and nothing else: One-ID has
 * no target for the system, and the citizen's identity is the system's to ask for. Only http(s)
 * URLs become links (registration allows https, or http on loopback).
 */
export const initiateLoginUrl = (uri: unknown, issuer: string): string | undefined => {
  if (typeof uri !== 'string' || !URL.canParse(uri)) return undefined;
  const url = new URL(uri);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  url.searchParams.set('iss', issuer);
  return url.toString();
};

const toEntry = (row: DirectoryRow, issuer: string): DirectoryEntry => {
  const m = row.metadata;
  const description = text(m.description);
  return {
    clientId: row.clientId,
    name: localized(text(m.client_name) ?? row.clientId, text(m['client_name#en'])),
    agency: localized(row.agency, row.agencyEn ?? undefined),
    description: description ? localized(description, text(m['description#en'])) : undefined,
    loginUrl: initiateLoginUrl(m.initiate_login_uri, issuer),
  };
};

/** Folded for matching: full-width forms and case do not matter, nor runs of spaces. */
const fold = (value: string) => value.normalize('NFKC').toLowerCase().replace(/\s+/g, ' ').trim();

const haystack = (e: DirectoryEntry) =>
  fold([e.name, e.agency, e.description].flatMap((l) => (l ? [l.ko, l.en] : [])).join('\n'));

export const createSystemDirectory = ({ knex, issuer }: { knex: Knex; issuer: string }) => ({
  /** The systems whose names, agency or description contain `query` (in either language), by name in `lang`. */
  async search(query: string, lang: Lang): Promise<DirectoryEntry[]> {
    const wanted = fold(query);
    const collator = new Intl.Collator(lang === 'ko' ? 'ko-KR' : 'en-GB');
    return (await listDirectoryRows(knex))
      .filter((row) => !isFirstPartyClient(row.clientId))
      .map((row) => toEntry(row, issuer))
      .filter((e) => !wanted || haystack(e).includes(wanted))
      .sort((a, b) => collator.compare(a.name[lang], b.name[lang]));
  },

  /**
   * The Korean and English names of systems and their agencies (OIDC Registration 2.1
   * `client_name#en`, the agency's registered English name), in one query, for the pages that
   * name a system: consent, My One-ID. A system without an English name keeps its Korean one.
   */
  async names(clientIds: readonly string[]): Promise<Map<string, SystemNames>> {
    const rows = await findSystemNameRows(knex, [...new Set(clientIds)]);
    return new Map(
      rows.map((row) => {
        const { name, agency } = toEntry(row, issuer);
        return [row.clientId, { name, agency }];
      }),
    );
  },
});

export type SystemNames = { name: Localized; agency: Localized };

export type SystemDirectory = ReturnType<typeof createSystemDirectory>;
