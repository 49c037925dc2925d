export {
  appendAudit,
  auditRecordFromRow,
  createAuditService,
  withAuditKeys,
} from './audit-service.ts';
export type {
  AuditCheckpoint,
  AuditEvent,
  AuditRecord,
  AuditService,
  AuditVerification,
} from './audit-service.ts';
