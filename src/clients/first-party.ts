// One-ID's own clients (its pages that sign in through One-ID): auto-consented, never agencies'.
export const ACCOUNT_CLIENT_ID = 'one-id-account';

export const isFirstPartyClient = (clientId: string) => clientId === ACCOUNT_CLIENT_ID;
