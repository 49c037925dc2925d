export { createClientService } from './client-service.ts';
export type { ClientService } from './client-service.ts';
export { parseClientMetadata } from './client-metadata.ts';
export type { ClientMetadataInput } from './client-metadata.ts';
export type { ClientRecord } from './client-repo.ts';
export { ACCOUNT_CLIENT_ID, isFirstPartyClient } from './first-party.ts';
