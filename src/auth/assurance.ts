// Levels of assurance One-ID asserts in `acr`, ordered weakest first. A client asks for a
// minimum with `acr_values` or an essential `acr` claim; a session below it must step up.
// (eIDAS-style names, so agencies can map them to their own rules: a higher level satisfies a
// request for a lower one.)
export const ACR = {
  low: 'urn:one-id:loa:low', // an upstream identity provider registered at this level (federation)
  substantial: 'urn:one-id:loa:substantial', // passkey with user verification
  high: 'urn:one-id:loa:high', // qualified certificate with proof of possession
} as const;

export const ACR_VALUES: string[] = [ACR.low, ACR.substantial, ACR.high];

export const acrRank = (acr: string | undefined): number => (acr ? ACR_VALUES.indexOf(acr) : -1);

/** The weakest known level of a list (unknown values ignored); undefined when none is known. */
const weakest = (values: readonly unknown[]): string | undefined =>
  values
    .filter((v): v is string => typeof v === 'string' && ACR_VALUES.includes(v))
    .sort((a, b) => acrRank(a) - acrRank(b))[0];

/** The weakest level that satisfies a space-separated `acr_values` request (unknown values ignored). */
export const requiredAcr = (acrValues: string | undefined): string | undefined =>
  // Most requests ask for no level at all (checked on every sign-in page and step).
  acrValues ? weakest(acrValues.split(' ')) : undefined;

/** OIDC Core 5.5.1.1: an essential `acr` in the claims parameter (`value` or `values`). */
const essentialAcr = (claims: unknown): string | undefined => {
  let parsed = claims;
  if (typeof claims === 'string') {
    try {
      parsed = JSON.parse(claims);
    } catch {
      return undefined; // the engine refuses an unreadable claims parameter itself
    }
  }
  const acr = (parsed as { id_token?: { acr?: unknown } } | null)?.id_token?.acr as
    { essential?: unknown; value?: unknown; values?: unknown } | null | undefined;
  if (!acr || acr.essential !== true) return undefined;
  return weakest(Array.isArray(acr.values) ? acr.values : [acr.value]);
};

/**
 * The level an authorization request requires, derived once from both ways of asking for it:
 * `acr_values` and an essential `acr` claim (the stronger of the two when both are given).
 * Every place that checks a sign-in's level uses this (engine policy, login page, every method).
 */
export const requestedAcr = (params: {
  acr_values?: unknown;
  claims?: unknown;
}): string | undefined => {
  const asked = [
    requiredAcr(typeof params.acr_values === 'string' ? params.acr_values : undefined),
    essentialAcr(params.claims),
  ].filter((v): v is string => v !== undefined);
  return asked.sort((a, b) => acrRank(b) - acrRank(a))[0];
};

export const satisfiesAcr = (
  sessionAcr: string | undefined,
  acrValues: string | undefined,
): boolean => {
  const needed = requiredAcr(acrValues);
  return needed === undefined || acrRank(sessionAcr) >= acrRank(needed);
};
