// What a citizen calls a passkey: the provider that holds it, named from the authenticator's
// AAGUID (community list: github.com/passkeydeveloper/passkey-authenticator-aaguids), with the
// day it was added, so two passkeys can be told apart; a name the citizen chose wins.
import type { Lang } from '../render/messages.ts';

type Names = { ko: string; en: string };
const apple: Names = { ko: 'iCloud 키체인', en: 'iCloud Keychain' };
const windows: Names = { ko: 'Windows Hello', en: 'Windows Hello' };

const PROVIDERS: Readonly<Record<string, Names>> = {
  'fbfc3007-154e-4ecc-8c0b-6e020557d7bd': apple,
  'dd4ec289-e01d-41c9-bb89-70fa845d4bf2': apple,
  'ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4': {
    ko: 'Google 비밀번호 관리자',
    en: 'Google Password Manager',
  },
  'adce0002-35bc-c60a-648b-0b25f1f05503': { ko: 'Mac용 Chrome', en: 'Chrome on Mac' },
  'b5397666-4885-aa6b-cebf-e52262a439a2': { ko: 'Chromium 브라우저', en: 'Chromium browser' },
  '771b48fd-d3d4-4f74-9232-fc157ab0507a': { ko: 'Mac용 Edge', en: 'Edge on Mac' },
  '08987058-cadc-4b81-b6e1-30de50dcbe96': windows,
  '9ddd1817-af5a-4672-a2b9-3e3dd95000a9': windows,
  '6028b017-b1d4-4c02-b4b3-afcdafc96bb2': windows,
  '53414d53-554e-4700-0000-000000000000': { ko: '삼성 패스', en: 'Samsung Pass' },
  'bada5566-a7aa-401f-bd96-45619a55120d': { ko: '1Password', en: '1Password' },
  'd548826e-79b4-db40-a3d8-11116f7e8349': { ko: 'Bitwarden', en: 'Bitwarden' },
};

/** Names One-ID gave passkeys before they were named by provider: not the citizen's choice. */
const AUTOMATIC = /^Passkey \([^)]*\)$/;

/** The provider's name in `lang`, undefined for an unknown or absent AAGUID. */
export const providerName = (aaguid: string | null | undefined, lang: Lang) =>
  aaguid ? PROVIDERS[aaguid.toLowerCase()]?.[lang] : undefined;

/**
 * Labels for a citizen's passkeys, in order: the citizen's own name, else "<provider> · <day>"
 * (or "Passkey · <day>" for an unknown authenticator); equal labels get " (2)", " (3)".
 */
export const passkeyLabels = (
  passkeys: readonly { name: string; aaguid: string | null; createdAt: Date }[],
  lang: Lang,
  day: (d: Date) => string,
): string[] => {
  const labels = passkeys.map((p) =>
    p.name && !AUTOMATIC.test(p.name)
      ? p.name
      : `${providerName(p.aaguid, lang) ?? (lang === 'ko' ? '패스키' : 'Passkey')} · ${day(p.createdAt)}`,
  );
  const seen = new Map<string, number>();
  return labels.map((label) => {
    const n = (seen.get(label) ?? 0) + 1;
    seen.set(label, n);
    return n === 1 ? label : `${label} (${n})`;
  });
};
