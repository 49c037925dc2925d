// What the sign-in and consent pages show about the requesting system and the data it asks for.
import type { ClientLike } from './deps.ts';

export const clientView = (client: ClientLike | undefined, agency: string | undefined) => ({
  name: client?.clientName ?? client?.clientId ?? '',
  logoUri: client?.logoUri,
  agency: agency ?? '',
});

/** Each requested item by its name (never only a scope name), in the citizen's language. */
export const consentItems = (details: Record<string, unknown>, t: (key: string) => string): string[] => {
  const scopes = (details.missingOIDCScope as string[] | undefined) ?? [];
  const claims = new Set((details.missingOIDCClaims as string[] | undefined) ?? []);
  const byScope: Record<string, string[]> = {
    openid: ['sub'],
    profile: ['name', 'birthdate'],
    email: ['email'],
    phone: ['phone_number'],
  };
  for (const scope of scopes) for (const claim of byScope[scope] ?? []) claims.add(claim);
  const items = [...claims].filter((c) => !['email_verified', 'phone_number_verified', 'acr', 'amr', 'auth_time', 'sid'].includes(c)).map((c) => t(`claim.${c}`));
  if (scopes.includes('offline_access')) items.push(t('scope.offline_access'));
  return items;
};
