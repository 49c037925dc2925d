export { createAdminModule } from './admin-module.ts';
export type { AdminModule } from './admin-module.ts';
export type { AdminService, AgencyInput } from './admin-service.ts';
export type { AdminGrantRecord, AgencyRecord } from './admin-repo.ts';
export type { RegistryService, ClientView } from './registry-service.ts';
export { auditCsvLine, auditJson, AUDIT_CSV_COLUMNS } from './audit-search.ts';
export type { AuditQuery, AuditSearch } from './audit-search.ts';
export { DCR_POLICY } from './dcr-service.ts';
export type { DcrService, DcrTokenView } from './dcr-service.ts';
export type { DcrTokenRecord } from './dcr-repo.ts';
export type {
  ManifestService,
  ManifestResult,
  ManifestChange,
  ManifestRejection,
} from './manifest-service.ts';
export type { ManifestFormat } from './manifest-format.ts';
export { decodeCursor, encodeCursor, pageRequest, MAX_LIMIT } from './pagination.ts';
export type { Page, PageRequest } from './pagination.ts';
export {
  ADMIN_SCOPES,
  cliPrincipal,
  isPlatform,
  readableAgencies,
  writableAgencies,
  ROLES,
  stepUpRequired,
} from './roles.ts';
export type { Guard, Principal, Role, RoleGrant } from './roles.ts';
