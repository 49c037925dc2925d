export { appendAudit, auditRecordFromRow, createAuditService } from './audit-service.ts';
export type { AuditEvent, AuditRecord, AuditService } from './audit-service.ts';
