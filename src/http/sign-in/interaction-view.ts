// What the sign-in and consent pages show about the requesting system and what it asks for.
import type { ClientLike } from '../deps.ts';

export const clientView = (client: ClientLike | undefined, agency: string | undefined) => ({
  name: client?.clientName ?? client?.clientId ?? '',
  logoUri: client?.logoUri,
  // OIDC Registration 2: shown to the citizen before they consent.
  policyUri: client?.policyUri,
  tosUri: client?.tosUri,
  agency: agency ?? '',
});

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
