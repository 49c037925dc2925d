// One-ID's own clients (its pages that sign in through One-ID): auto-consented, never agencies'.
export const ACCOUNT_CLIENT_ID = 'one-id-account';
/** The administration console (docs/admin.md). */
export const ADMIN_CLIENT_ID = 'one-id-admin';
/** Administrators' own scripts obtain admin API tokens with it (a native app: loopback redirect, PKCE). */
export const ADMIN_API_CLIENT_ID = 'one-id-admin-api';

const FIRST_PARTY = new Set([ACCOUNT_CLIENT_ID, ADMIN_CLIENT_ID, ADMIN_API_CLIENT_ID]);

export const isFirstPartyClient = (clientId: string) => FIRST_PARTY.has(clientId);
