// What the sign-in and consent pages show about the requesting system and what it asks for.
import type { SystemNames } from '../../clients/index.ts';
import type { ClientLike } from '../deps.ts';
import type { Lang } from '../render/messages.ts';

/**
 * The system and its agency, named in the page's language: the English page uses the English
 * names when registered (`client_name#en`, OIDC Registration 2.1; the agency's English name).
 */
export const clientView = (
  client: ClientLike | undefined,
  agency: string | undefined,
  lang: Lang = 'ko',
  names?: SystemNames,
) => ({
  name: names?.name[lang] ?? client?.clientName ?? client?.clientId ?? '',
  logoUri: client?.logoUri,
  // OIDC Registration 2: shown to the citizen before they consent.
  policyUri: client?.policyUri,
  tosUri: client?.tosUri,
  agency: names?.agency[lang] ?? agency ?? '',
});

/** The order a person expects: who (name), then when born, how to reach, where; the rest after. */
const NATURAL = [
  'name',
  'family_name',
  'given_name',
  'birthdate',
  'gender',
  'email',
  'phone_number',
  'address',
];

/**
 * Consent items: the required ones, then those the citizen may choose, each group in the order
 * above with the others after it as they came (a stable sort).
 */
export const inNaturalOrder = <T extends { claim: string; required: boolean }>(
  items: readonly T[],
): T[] => {
  const rank = (item: T) => {
    const i = NATURAL.indexOf(item.claim);
    return (item.required ? 0 : 100) + (i === -1 ? NATURAL.length : i);
  };
  return [...items].sort((a, b) => rank(a) - rank(b));
};

const STANDALONE = new Set(['sub', 'sid', 'auth_time', 'acr', 'amr', 'iss']);

/** The scopes and claims (claims parameter) an authorization request asks for. */
export const requestedFromParams = (params: Record<string, unknown>) => {
  let claims: string[] = [];
  try {
    const parsed =
      typeof params.claims === 'string'
        ? (JSON.parse(params.claims) as Record<string, Record<string, unknown> | undefined>)
        : {};
    claims = [
      ...new Set([...Object.keys(parsed.userinfo ?? {}), ...Object.keys(parsed.id_token ?? {})]),
    ].filter((c) => !STANDALONE.has(c));
  } catch {
    // The engine has already validated the claims parameter; anything unreadable asks for nothing.
  }
  return {
    scopes: String(params.scope ?? '')
      .split(' ')
      .filter(Boolean),
    claims,
  };
};
