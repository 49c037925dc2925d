// Levels of assurance One-ID asserts in `acr`, ordered weakest first. A client asks for a
// minimum with `acr_values`; a session below it must step up. (eIDAS-style names, so agencies
// can map them to their own rules.)
export const ACR = {
  low: 'urn:one-id:loa:low', // an upstream identity provider registered at this level (federation)
  substantial: 'urn:one-id:loa:substantial', // passkey with user verification
  high: 'urn:one-id:loa:high', // qualified certificate with proof of possession
} as const;

export const ACR_VALUES: string[] = [ACR.low, ACR.substantial, ACR.high];

export const acrRank = (acr: string | undefined): number => (acr ? ACR_VALUES.indexOf(acr) : -1);

/** The weakest level that satisfies a space-separated `acr_values` request (unknown values ignored). */
export const requiredAcr = (acrValues: string | undefined): string | undefined => {
  const known = (acrValues ?? '').split(' ').filter((v) => ACR_VALUES.includes(v));
  return known.sort((a, b) => acrRank(a) - acrRank(b))[0];
};

export const satisfiesAcr = (
  sessionAcr: string | undefined,
  acrValues: string | undefined,
): boolean => {
  const needed = requiredAcr(acrValues);
  return needed === undefined || acrRank(sessionAcr) >= acrRank(needed);
};
