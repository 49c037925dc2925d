import { createHmac } from 'node:crypto';

/** OIDC Core 8.1: one stable `sub` per (sector, citizen), unlinkable across sectors. */
export const pairwiseSub = (salt: string, sectorIdentifier: string, accountId: string): string =>
  createHmac('sha256', salt).update(`${sectorIdentifier}\u0000${accountId}`).digest('base64url');
