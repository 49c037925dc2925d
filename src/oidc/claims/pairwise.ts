import { createHmac } from 'node:crypto';
import { createRecentlyUsed } from '../../shared/index.ts';

/**
 * The sector a pairwise `sub` belongs to: the client's agency together with its OIDC sector
 * identifier (the host of its redirect URIs, or of its sector_identifier_uri). Agencies sharing a
 * host (one government portal serving several agencies' systems) still get unrelated subs. A host
 * has no spaces, so "<host> <agency>" names each pair once.
 */
export const subjectSector = (agency: string | undefined, sectorIdentifier: string): string =>
  `${sectorIdentifier} ${agency ?? ''}`;

/** OIDC Core 8.1: one stable `sub` per (sector, citizen), unlinkable across sectors. */
export const pairwiseSub = (salt: string, sectorIdentifier: string, accountId: string): string =>
  createHmac('sha256', salt).update(`${sectorIdentifier}\u0000${accountId}`).digest('base64url');

/**
 * pairwiseSub for one salt, remembering the `max` subs used most recently: userinfo,
 * introspection and every ID token ask for the same citizen's sub again and again. Least
 * recently used first out, so a busy instance past `max` citizens keeps its active ones
 * instead of starting afresh. A sub is a
 * function of its inputs: nothing here can go stale.
 */
export const createPairwiseSubs = (
  salt: string,
  { max = 10_000, derive = pairwiseSub }: { max?: number; derive?: typeof pairwiseSub } = {},
) => {
  const known = createRecentlyUsed<string, string>(max);
  return (sectorIdentifier: string, accountId: string): string => {
    const key = `${sectorIdentifier}\u0000${accountId}`;
    let sub = known.get(key);
    if (sub === undefined) {
      sub = derive(salt, sectorIdentifier, accountId);
      known.set(key, sub);
    }
    return sub;
  };
};
