export { createClientService } from './client-service.ts';
export { createClientCache } from './client-cache.ts';
export type { ClientCache, StampMirror } from './client-cache.ts';
export type { AddClientOptions, ChangeContext, ClientService } from './client-service.ts';
export { parseClientMetadata, readClientMetadata, usesSecret } from './client-metadata.ts';
export { displayNameProblem } from './display-name.ts';
export { FIELD_POLICY, serverOffer, type FieldRule, type ServerOffer } from './metadata-policy.ts';
export {
  FAPI2_CLIENT_ALGS,
  requiresFapi2,
  SECURITY_PROFILES,
  type SecurityProfile,
} from './security-profile.ts';
export type { EngineMetadataCheck } from './client-service.ts';
export type { ClaimAllowance, ClientMetadata, ClientMetadataInput } from './client-metadata.ts';
export type { AllowanceRow, ClientRecord, ClientStatus } from './client-repo.ts';
export {
  ACCOUNT_CLIENT_ID,
  ADMIN_API_CLIENT_ID,
  ADMIN_CLIENT_ID,
  isFirstPartyClient,
} from './first-party.ts';
export { createSystemDirectory } from './system-directory.ts';
export type { DirectoryEntry, SystemDirectory, SystemNames } from './system-directory.ts';
export { createClientsModule } from './clients-module.ts';
export type { ClientsModule } from './clients-module.ts';
