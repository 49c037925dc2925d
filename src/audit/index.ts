export {
  appendAudit,
  appendAuditWith,
  auditRecordFromRow,
  createAuditService,
  withAuditKeys,
} from './audit-service.ts';
export type {
  AuditCheckpoint,
  AuditEvent,
  AuditedWrite,
  AuditRecord,
  AuditService,
  AuditVerification,
} from './audit-service.ts';
